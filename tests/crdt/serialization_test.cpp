#include "crdt/serialization.hpp"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "generators.hpp"
#include "property.hpp"
#include "show.hpp"

// Under AddressSanitizer, any single allocation above 64 MiB aborts this test
// binary: a decoder that sizes a buffer from a corrupt length before checking
// it against the input fails loudly instead of merely succeeding slowly. The
// CRDT tests never need that much. (Ignored without ASan; ASAN_OPTIONS wins.)
extern "C" const char* __asan_default_options() {
    return "max_allocation_size_mb=64";
}

namespace {

using namespace meridian::crdt;
using meridian::test::BoundedCounterModel;
using meridian::test::check_property;
using meridian::test::LwwModel;
using meridian::test::HashModel;
using meridian::test::OrSetModel;
using meridian::test::pick;
using meridian::test::PnCounterModel;
using meridian::test::SealedCounterModel;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

// Inside a property: x survives a round trip, every strict prefix of its
// encoding is refused (the format is self-delimiting) and so is a trailing byte.
template <class T>
void require_round_trip(const T& x) {
    const std::string bytes = encode(x);
    const auto back = decode<T>(bytes);
    RC_ASSERT(back.has_value());
    RC_ASSERT(*back == x);
    for (std::size_t n = 0; n < bytes.size(); ++n) RC_ASSERT(!decode<T>(bytes.substr(0, n)));
    RC_ASSERT(!decode<T>(bytes + '\0'));
}

// Inside a property: what the types rely on and decode() promises to check.
template <class Entries>
void require_sorted_by_replica(const Entries& entries) {
    for (std::size_t i = 1; i < entries.size(); ++i)
        RC_ASSERT(entries[i - 1].replica < entries[i].replica);
}
void require_well_formed(const VersionVector& vv) {
    require_sorted_by_replica(vv.entries());
    for (const auto& e : vv.entries()) RC_ASSERT(e.seq != 0);
}
void require_well_formed(const PnCounter& c) {
    require_sorted_by_replica(c.entries());
    require_sorted_by_replica(c.baselines());
    if (const auto* seal = c.seal_in_force()) RC_ASSERT(seal->epoch > 0 && seal->generation > 0);
}
void require_well_formed(const BoundedCounter& c) {
    require_sorted_by_replica(c.entries());
}
void require_well_formed(const StringSet& s) {
    std::set<Dot> held;
    for (const auto& [element, dots] : s.entries()) {
        RC_ASSERT(!dots.empty());
        for (const Dot& d : dots) {
            RC_ASSERT(s.context().contains(d));
            RC_ASSERT(held.insert(d).second);  // one element per dot
        }
    }
    require_well_formed(s.context().prefix());
}
void require_well_formed(const Hash& h) {
    std::set<Dot> held;
    for (const auto& [name, field] : h.fields()) {
        RC_ASSERT(!(field.writes.empty() && field.counter == PnCounter{}));
        for (const auto& w : field.writes) {
            RC_ASSERT(h.context().contains(w.dot));
            RC_ASSERT(held.insert(w.dot).second);  // one write per dot
        }
        require_well_formed(field.counter);
    }
    require_well_formed(h.context().prefix());
}
void require_well_formed(const Value& v) {
    if (const auto* c = v.as<PnCounter>()) require_well_formed(*c);
    if (const auto* b = v.as<BoundedCounter>()) require_well_formed(*b);
    if (const auto* s = v.as<StringSet>()) require_well_formed(*s);
    if (const auto* h = v.as<Hash>()) require_well_formed(*h);
}
template <class T>
void require_well_formed(const T&) {}

// Inside a property: decoding arbitrary bytes gives a value or an error; a
// value it gives is well formed and encodes to something that decodes to the
// same value (so a relayed delta does not change on the way).
template <class T>
void require_safe_decode(const std::string& bytes) {
    const auto decoded = decode<T>(bytes);
    if (!decoded) return;
    require_well_formed(*decoded);
    const auto again = decode<T>(encode(*decoded));
    RC_ASSERT(again.has_value());
    RC_ASSERT(*again == *decoded);
}

void require_safe_decode_as_anything(const std::string& bytes) {
    require_safe_decode<Value>(bytes);
    require_safe_decode<Register>(bytes);
    require_safe_decode<PnCounter>(bytes);
    require_safe_decode<StringSet>(bytes);
    require_safe_decode<BoundedCounter>(bytes);
    require_safe_decode<Hash>(bytes);
    require_safe_decode<VersionVector>(bytes);
    require_safe_decode<DotContext>(bytes);
    require_safe_decode<Hlc>(bytes);
}

template <class Model>
void check_round_trips() {
    check_property([] {
        const auto sim = meridian::test::simulate<Model>();
        const auto states = sim.states();
        const auto& x = pick(states);
        require_round_trip(x);
        require_round_trip(Value(x));
    });
}

// One random edit of an encoding: overwrite, insert or erase a byte, or cut.
struct Edit {
    int kind = 0;
    std::size_t at = 0;
    char byte = 0;
};

std::ostream& operator<<(std::ostream& os, const Edit& e) {
    static constexpr const char* names[] = {"overwrite", "insert", "erase", "cut"};
    return os << names[e.kind] << " at " << e.at << " byte "
              << int(static_cast<unsigned char>(e.byte));
}

std::string apply_edits(std::string bytes, const std::vector<Edit>& edits) {
    for (const Edit& e : edits) {
        const std::size_t at = bytes.empty() ? 0 : e.at % bytes.size();
        switch (e.kind) {
            case 0:
                if (!bytes.empty()) bytes[at] = e.byte;
                break;
            case 1:
                bytes.insert(bytes.begin() + at, e.byte);
                break;
            case 2:
                if (!bytes.empty()) bytes.erase(at, 1);
                break;
            case 3:
                bytes.resize(at);
                break;
        }
    }
    return bytes;
}

rc::Gen<std::vector<Edit>> edits() {
    auto edit = rc::gen::apply(
        [](int k, std::size_t at, char b) {
            return Edit{k, at, b};
        },
        rc::gen::weightedElement<int>({{6, 0}, {2, 1}, {2, 2}, {1, 3}}),
        rc::gen::inRange<std::size_t>(0, 4096), rc::gen::arbitrary<char>());
    return rc::gen::resize(8, rc::gen::nonEmpty(rc::gen::container<std::vector<Edit>>(edit)));
}

template <class Model>
void check_corrupted() {
    check_property([] {
        const auto sim = meridian::test::simulate<Model>();
        const auto states = sim.states();
        const std::string bytes = apply_edits(encode(Value(pick(states))), *edits());
        require_safe_decode_as_anything(bytes);
    });
}

std::string varint(std::uint64_t v) {
    std::string out;
    CompactOutputArchive ar(out);
    ar.write_varint(v);
    return out;
}

template <class T>
bool refused(const std::string& bytes) {
    return !decode<T>(bytes).has_value();
}

}  // namespace

TEST_CASE("serialization: a register survives a round trip, truncated or padded copies do not") {
    check_round_trips<LwwModel>();
}

TEST_CASE("serialization: a pn counter survives a round trip, truncated or padded copies do not") {
    check_round_trips<PnCounterModel>();
}

TEST_CASE("serialization: a sealed counter survives a round trip as a key's value") {
    // A bare counter (a hash field's) is never sealed: the seal follows the value's state.
    check_property([] {
        const auto sim = meridian::test::simulate<SealedCounterModel>();
        require_round_trip(Value(pick(sim.states())));
    });
}

TEST_CASE("serialization: a counter without a seal keeps the bytes it had before seals") {
    PnCounter c;
    REQUIRE(c.add(us, 5));
    REQUIRE(c.add(eu, -2));
    (void)c.reset();
    REQUIRE(c.add(us, 1));
    const std::vector<PnCounter::Entry> entries(c.entries().begin(), c.entries().end());
    const std::vector<PnCounter::Entry> baselines(c.baselines().begin(), c.baselines().end());
    REQUIRE(baselines.size() == 2);
    CHECK(encode(Value(c)) == encode(std::int32_t{1}) + encode(entries) + encode(baselines));
}

TEST_CASE("serialization: a seal on a value that is not a counter is refused") {
    PnCounter c;
    REQUIRE(c.add(us, 5));
    const std::string sealed = encode(Value(c.seal(eu, 3)));
    const std::string tag = encode(std::int32_t{1 + kValueHasSeal});
    REQUIRE(sealed.substr(0, tag.size()) == tag);
    CHECK_FALSE(refused<Value>(sealed));
    Register reg;
    (void)reg.assign(us, Hlc::from_packed(7), std::string("x"));
    CHECK(refused<Value>(encode(std::int32_t{0 + kValueHasSeal}) + encode(reg) +
                         encode(*c.seal_in_force())));
    // Epoch and generation 0 are never written.
    PnCounter::Seal zero = *c.seal_in_force();
    zero.epoch = 0;
    CHECK(refused<Value>(tag + encode(PnCounter{}) + encode(zero)));
}

TEST_CASE("serialization: an or set survives a round trip, truncated or padded copies do not") {
    check_round_trips<OrSetModel>();
}

TEST_CASE(
    "serialization: a bounded counter survives a round trip, truncated or padded copies do not") {
    check_round_trips<BoundedCounterModel>();
}

TEST_CASE("serialization: a hash survives a round trip, truncated or padded copies do not") {
    check_round_trips<HashModel>();
}

TEST_CASE("serialization: version vectors, dot contexts and clocks survive a round trip") {
    check_property([] {
        require_round_trip(pick(*meridian::test::version_vectors()));
        require_round_trip(pick(*meridian::test::dot_contexts()));
        require_round_trip(Hlc::from_packed(*rc::gen::arbitrary<std::uint64_t>()));
    });
}

TEST_CASE("serialization: random bytes decode to an error or to a value that re-encodes") {
    check_property([] {
        require_safe_decode_as_anything(
            *rc::gen::container<std::string>(rc::gen::arbitrary<char>()));
    });
}

TEST_CASE("serialization: corrupted registers decode to an error or a value that re-encodes") {
    check_corrupted<LwwModel>();
}

TEST_CASE("serialization: corrupted counters decode to an error or a value that re-encodes") {
    check_corrupted<PnCounterModel>();
}

TEST_CASE("serialization: corrupted sealed counters decode to an error or a value that re-encodes") {
    check_corrupted<SealedCounterModel>();
}

TEST_CASE("serialization: corrupted sets decode to an error or a value that re-encodes") {
    check_corrupted<OrSetModel>();
}

TEST_CASE(
    "serialization: corrupted bounded counters decode to an error or a value that re-encodes") {
    check_corrupted<BoundedCounterModel>();
}

TEST_CASE("serialization: corrupted hashes decode to an error or a value that re-encodes") {
    check_corrupted<HashModel>();
}

TEST_CASE("serialization: a length beyond the remaining input is refused before allocating") {
    CHECK(refused<VersionVector>(varint(std::uint64_t{1} << 62)));
    CHECK(refused<VersionVector>(varint(std::numeric_limits<std::uint64_t>::max())));
    CHECK(refused<VersionVector>(varint(3) + encode(VersionVector::Entry{us, 1})));
    // A register holding a string of 2^40 bytes, of which 3 follow. (cereal
    // writes an engaged optional as "nullopt: false", then the value.)
    const std::string head =
        encode(true) + encode(Hlc::from_parts(1, 0)) + encode(us) + encode(false);
    const auto sane = decode<Register>(head + varint(3) + "abc");
    REQUIRE(sane.has_value());
    CHECK(sane->value() == "abc");
    CHECK(refused<Register>(head + varint(std::uint64_t{1} << 40) + "abc"));
    CHECK(refused<StringSet>(varint(std::uint64_t{1} << 50)));
}

TEST_CASE("serialization: entries out of order, duplicated or zero are refused") {
    using VvEntries = std::vector<VersionVector::Entry>;
    CHECK(refused<VersionVector>(encode(VvEntries{{eu, 5}, {us, 3}})));
    CHECK(refused<VersionVector>(encode(VvEntries{{us, 5}, {us, 5}})));
    CHECK(refused<VersionVector>(encode(VvEntries{{us, 0}})));
    CHECK_FALSE(refused<VersionVector>(encode(VvEntries{{us, 3}, {eu, 5}})));

    using PnEntries = std::vector<PnCounter::Entry>;
    CHECK(refused<PnCounter>(encode(PnEntries{{eu, 1, 0}, {us, 1, 0}}) + encode(PnEntries{})));
    CHECK(refused<PnCounter>(encode(PnEntries{}) + encode(PnEntries{{us, 1, 0}, {us, 1, 0}})));

    using Transfers = std::vector<BoundedCounter::Transfer>;
    const std::string no_entries = encode(std::vector<BoundedCounter::Entry>{});
    CHECK(refused<BoundedCounter>(no_entries + encode(Transfers{{eu, us, 1}, {us, eu, 1}})));
    CHECK_FALSE(refused<BoundedCounter>(no_entries + encode(Transfers{{us, eu, 1}, {eu, us, 1}})));
}

TEST_CASE("serialization: a set whose dots do not match its context is refused") {
    using Entries = std::map<std::string, std::vector<Dot>>;
    DotContext context;
    context.insert({us, 1});
    context.insert({us, 2});
    context.compact();
    CHECK_FALSE(
        refused<StringSet>(encode(Entries{{"x", {{us, 1}}}, {"y", {{us, 2}}}}) + encode(context)));
    CHECK(refused<StringSet>(encode(Entries{{"x", {{us, 3}}}}) + encode(context)));  // unseen dot
    CHECK(refused<StringSet>(encode(Entries{{"x", {}}}) + encode(context)));         // no dot
    CHECK(
        refused<StringSet>(encode(Entries{{"x", {{us, 1}}}, {"y", {{us, 1}}}}) + encode(context)));
    CHECK(refused<StringSet>(encode(Entries{{"x", {{us, 2}, {us, 1}}}}) + encode(context)));
}

TEST_CASE("serialization: a value of an unknown type is refused") {
    const std::string counter = encode(PnCounter{});
    CHECK_FALSE(refused<Value>(encode(std::int32_t{1}) + counter));
    CHECK(refused<Value>(encode(std::int32_t{4}) + counter));
    CHECK(refused<Value>(encode(std::int32_t{-1}) + counter));
}

TEST_CASE("serialization: bools, varints and integers out of range are refused") {
    CHECK(refused<Register>(std::string(1, '\x03')));            // register tags are 0, 1 and 2
    CHECK(refused<Hlc>(std::string(11, '\x80') + '\x01'));       // longer than 10 bytes
    CHECK(refused<Hlc>(std::string(9, '\xff') + '\x02'));        // over 64 bits
    CHECK_FALSE(refused<Hlc>(std::string(9, '\xff') + '\x01'));  // exactly 2^64 - 1
    CHECK(refused<Value>(varint(std::uint64_t{1} << 33) + encode(PnCounter{})));  // not an int32
}

TEST_CASE(
    "serialization: a set encodes as the std::map of its members, in member order, then its "
    "context") {
    // The set keeps its members in a hash map; the bytes on the wire and in snapshots must stay
    // those of the ordered map they were before.
    StringSet set;
    std::map<std::string, std::vector<Dot>> entries;
    for (int i = 0; i < 300; ++i) {
        const std::string member = "member" + std::to_string((i * 7919) % 1000);
        set.add(us, member);
    }
    set.remove("member7919");
    // Members that tie on their first 8 bytes, are prefixes of others, hold zero or high bytes.
    for (const std::string& member :
         {std::string(), std::string("a"), std::string("a\0", 2), std::string("abcdefgh"),
          std::string("abcdefgh1"), std::string("abcdefgh0"), std::string("\xff"),
          std::string("\x80"
                      "abc"),
          std::string("member1000")})
        set.add(us, member);
    set.join(StringSet{}.add(eu, "zz"));
    for (const auto& [member, dots] : set.entries()) entries.emplace(member, dots);
    CHECK(encode(set) == encode(entries) + encode(set.context()));
    const auto back = decode<StringSet>(encode(set));
    REQUIRE(back.has_value());
    CHECK(*back == set);
}

TEST_CASE("serialization: a register keeps its observed writes, and refuses ones it implies") {
    Register a, b;
    b.join(a.assign(us, Hlc::from_parts(1, 0), "first"));
    (void)b.assign(eu, Hlc::from_parts(2, 0), "second");
    REQUIRE(b.seen().size() == 1);
    const std::string bytes = encode(b);
    CHECK(bytes[0] == '\x02');
    const auto back = decode<Register>(bytes);
    REQUIRE(back.has_value());
    CHECK(*back == b);

    // A single-writer register still leads with the byte of the bool older WALs hold.
    CHECK(encode(a)[0] == encode(true)[0]);

    const std::string head = std::string(1, '\x02') + encode(Hlc::from_parts(5, 0)) + encode(us) +
                             encode(true);  // deleted
    using Seen = std::vector<SeenWrite>;
    CHECK_FALSE(refused<Register>(head + encode(Seen{{eu, Hlc::from_parts(4, 0)}})));
    CHECK(refused<Register>(head + encode(Seen{})));
    CHECK(refused<Register>(head + encode(Seen{{us, Hlc::from_parts(4, 0)}})));  // implied
    CHECK_FALSE(refused<Register>(head + encode(Seen{{us, Hlc::from_parts(6, 0)}})));
    CHECK(refused<Register>(
        head + encode(Seen{{eu, Hlc::from_parts(1, 0)}, {eu, Hlc::from_parts(2, 0)}})));
}
