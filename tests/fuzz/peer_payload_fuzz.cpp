// libFuzzer target for what a peer's frames carry once the frame decoder has cut and
// decompressed them: Records batches, snapshot chunks, Hello/Auth/Ack/SnapshotDone, and the CRDT
// values inside. frame_decoder_fuzz stops at the payload bytes; this starts there.
// The first input byte picks the decoder, the rest is the payload. Checks: decoding never
// crashes, throws or allocates without bound; whatever decodes re-encodes to bytes that decode
// to the same thing and re-encode identically; joining decoded values (as the node does with a
// peer's deltas) is idempotent, commutative for counters, and never crashes.
// Built by tests/fuzz/CMakeLists.txt (MERIDIAN_FUZZ=ON, clang); scripts/fuzz.sh runs it.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/serialization.hpp"
#include "replication/log_record.hpp"
#include "replication/messages.hpp"
#include "replication/record_format.hpp"

namespace {

namespace crdt = meridian::crdt;
namespace repl = meridian::replication;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "peer_payload_fuzz: %s\n", what);
    std::abort();
}

// decode(encode(x)) == x (where T can be compared), and encoding is stable from then on.
template <class T, class Encode, class Decode>
void check_round_trip(const T& value, Encode encode, Decode decode) {
    const std::string bytes = encode(value);
    auto again = decode(bytes);
    if (!again) die("a decoded value does not decode after re-encoding");
    if constexpr (std::equality_comparable<T>) {
        if (!(*again == value)) die("a re-encoded value decodes to something else");
    }
    if (encode(*again) != bytes) die("re-encoding is not stable");
}

template <class T>
void check_crdt_round_trip(const T& value) {
    check_round_trip(
        value, [](const T& v) { return crdt::encode(v); },
        [](std::string_view b) { return crdt::decode<T>(b); });
}

// What a node does with a delta, plus the laws that make replays and relays harmless.
void exercise(const crdt::Value& value) {
    (void)value.exists();
    if (const auto* c = value.as<crdt::PnCounter>()) (void)c->value();
    if (const auto* b = value.as<crdt::BoundedCounter>()) (void)b->value();
    if (const auto* s = value.as<crdt::StringSet>()) (void)s->value();

    crdt::Value twice = value;
    if (!twice.join(value)) die("joining a value with itself was refused");
    if (!(twice == value)) die("join is not idempotent");

    crdt::Value grown = crdt::Value::empty(value.type());
    if (!grown.join(value)) die("joining into the empty value of the same type was refused");
    if (!grown.join(value)) die("a second join was refused");
    crdt::Value again = grown;
    if (!again.join(value) || !(again == grown)) die("a replayed delta changed the state");
}

// a joined with b against b joined with a, for the types whose join is defined on any pair of
// states (registers with equal stamps and sets sharing a dot between elements cannot arise from
// real writes, so only counters are held to it).
void check_commutes(const crdt::Value& a, const crdt::Value& b) {
    if (a.type() != b.type()) {
        crdt::Value x = a;
        if (x.join(b)) die("joining values of different types was accepted");
        if (!(x == a)) die("a refused join changed the state");
        return;
    }
    crdt::Value ab = a, ba = b;
    if (!ab.join(b) || !ba.join(a)) die("a join of two values of one type was refused");
    exercise(ab);
    const bool counter =
        a.type() == crdt::ValueType::counter || a.type() == crdt::ValueType::bounded_counter;
    if (counter && !(ab == ba)) die("counter join is not commutative");
}

void records(std::string_view payload) {
    auto decoded = repl::decode_records(payload);
    if (!decoded) return;
    check_round_trip(*decoded, repl::encode_records, repl::decode_records);
    // The keyspace's view: join every delta into its key, twice (a replayed batch).
    std::map<std::string, crdt::Value> keys;
    for (int round = 0; round < 2; ++round) {
        for (const repl::LogRecord& record : *decoded) {
            check_round_trip(record, repl::encode_record, repl::decode_record);
            for (const repl::KeyDelta& d : record.deltas) {
                exercise(d.delta);
                auto [it, fresh] = keys.try_emplace(d.key, crdt::Value::empty(d.delta.type()));
                (void)fresh;
                (void)it->second.join(d.delta);  // another type: refused, counted by the node
            }
        }
    }
}

void states(std::string_view payload) {
    auto decoded = crdt::decode<std::vector<repl::KeyDelta>>(payload);
    if (!decoded) return;
    check_crdt_round_trip(*decoded);
    for (const repl::KeyDelta& d : *decoded) exercise(d.delta);
}

void two_values(std::string_view payload) {
    if (payload.empty()) return;
    const std::size_t split = static_cast<std::uint8_t>(payload[0]) % payload.size();
    auto a = crdt::decode<crdt::Value>(payload.substr(1, split));
    auto b = crdt::decode<crdt::Value>(payload.substr(1 + split));
    if (a) exercise(*a);
    if (b) exercise(*b);
    if (a && b) check_commutes(*a, *b);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
    switch (data[0] % 8) {
        case 0:
            records(payload);
            break;
        case 1:
            states(payload);
            break;
        case 2:
            if (auto v = crdt::decode<crdt::Value>(payload)) {
                check_crdt_round_trip(*v);
                exercise(*v);
            }
            break;
        case 3:
            two_values(payload);
            break;
        case 4:
            if (auto h = repl::decode_hello(payload))
                check_round_trip(
                    *h, [](const auto& m) { return repl::encode(m); }, repl::decode_hello);
            break;
        case 5:
            if (auto a = repl::decode_auth(payload))
                check_round_trip(
                    *a, [](const auto& m) { return repl::encode(m); }, repl::decode_auth);
            break;
        case 6:
            if (auto a = repl::decode_ack(payload))
                check_round_trip(
                    *a, [](const auto& m) { return repl::encode(m); }, repl::decode_ack);
            break;
        case 7:
            if (auto d = repl::decode_snapshot_done(payload))
                check_round_trip(
                    *d, [](const auto& m) { return repl::encode(m); }, repl::decode_snapshot_done);
            break;
    }
    return 0;
}
