// libFuzzer target for the node-level messages of the peer link (node/peer_messages.hpp):
// forwarded writes, rights requests and the home owners' protocol, and the homes file's body;
// then a sequence of home messages from arbitrary peers acted on by a HomeTable, as
// node/home_owners.cpp does. The first input byte picks the decoder, the rest is the payload.
// Checks: decoding never crashes; whatever decodes re-encodes to bytes that decode and
// re-encode identically; the table's epochs never go down, and its durable part reloads to the
// same table.
// Built by tests/fuzz/CMakeLists.txt (MERIDIAN_FUZZ=ON, clang); scripts/fuzz.sh runs it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "conflict/home_table.hpp"
#include "node/peer_messages.hpp"

namespace {

namespace conflict = meridian::conflict;
namespace node = meridian::node;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "home_message_fuzz: %s\n", what);
    std::abort();
}

template <class T, class Decode>
void check_round_trip(const T& value, Decode decode) {
    const std::string bytes = node::encode(value);
    auto again = decode(bytes);
    if (!again) die("a decoded message does not decode after re-encoding");
    if (node::encode(*again) != bytes) die("re-encoding is not stable");
}

conflict::HomeTable table_of(const conflict::HomeDurable& durable) {
    conflict::HomeTable::Options o;
    o.self = 1;
    o.regions = {1, 2, 3};
    o.lease_ms = 1000;
    return conflict::HomeTable(o, durable, 0);
}

// Messages cut by a length byte, each from the region its first byte names, acted on in order.
void protocol(std::string_view input) {
    conflict::HomeTable table = table_of({});
    std::uint64_t now = 0;
    while (input.size() >= 2) {
        const auto from =
            static_cast<meridian::crdt::RegionId>(1 + static_cast<std::uint8_t>(input[0]) % 4);
        const std::size_t length =
            std::min<std::size_t>(static_cast<std::uint8_t>(input[1]), input.size() - 2);
        const std::string_view payload = input.substr(2, length);
        input.remove_prefix(2 + length);
        now += 97;
        auto message = node::decode_home_message(payload);
        if (!message) continue;
        const std::uint64_t highest = table.highest_epoch();
        const std::vector<conflict::HomeEntry> before = table.entries();
        if (auto* p = std::get_if<conflict::FailoverProposal>(&*message)) {
            const conflict::FailoverVote vote = table.vote(*p, {}, now);
            if (vote.accepted)
                for (const conflict::HomeEntry& e : p->homes)
                    if (auto promise = table.promise(e.home);
                        !promise || promise->epoch != p->epoch)
                        die("an accepted vote did not record its promise");
        } else if (auto* r = std::get_if<conflict::LeaseRequest>(&*message)) {
            (void)table.grant(from, *r, now);
        } else if (auto* g = std::get_if<conflict::LeaseGrant>(&*message)) {
            table.granted(from, table.lease_request(g->round), *g, now);
        } else if (auto* c = std::get_if<node::HomeCommits>(&*message)) {
            for (const conflict::HomeEntry& e : c->entries) (void)table.adopt(e);
        } else if (auto* o = std::get_if<conflict::FailoverOutcome>(&*message)) {
            (void)table.release(o->epoch, o->homes);
        }
        if (table.highest_epoch() < highest) die("the highest epoch went down");
        for (std::size_t i = 0; i < before.size(); ++i)
            if (table.entries()[i].epoch < before[i].epoch) die("a home's epoch went down");
        for (const conflict::HomeEntry& e : table.entries()) (void)table.serving(e.home, {}, now);
        const conflict::HomeDurable durable = table.durable();
        auto reloaded = node::decode_home_durable(node::encode(durable));
        if (!reloaded || !(table_of(*reloaded).durable() == durable))
            die("the durable part does not reload");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 7) {
        case 0:
            if (auto m = node::decode_home_message(payload))
                check_round_trip(*m, node::decode_home_message);
            break;
        case 1:
            if (auto m = node::decode_home_durable(payload))
                check_round_trip(*m, node::decode_home_durable);
            break;
        case 2:
            if (auto m = node::decode_forward_request(payload))
                check_round_trip(*m, node::decode_forward_request);
            break;
        case 3:
            if (auto m = node::decode_forward_reply(payload))
                check_round_trip(*m, node::decode_forward_reply);
            break;
        case 4:
            if (auto m = node::decode_rights_request(payload))
                check_round_trip(*m, node::decode_rights_request);
            break;
        case 5:
            if (auto m = node::decode_rights_reply(payload))
                check_round_trip(*m, node::decode_rights_reply);
            break;
        case 6:
            protocol(payload);
            break;
    }
    return 0;
}
