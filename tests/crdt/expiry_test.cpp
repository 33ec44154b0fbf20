// A key's TTL as replicated state (crdt::Expiry beside the value in crdt::Value).
#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "crdt/serialization.hpp"
#include "crdt/value.hpp"
#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Hlc;
using meridian::crdt::PnCounter;
using meridian::crdt::Register;
using meridian::crdt::ReplicaId;
using meridian::crdt::StringSet;
using meridian::crdt::Value;
using meridian::crdt::ValueType;
using meridian::test::ExpiringLwwModel;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

Hlc at(std::uint64_t ms) { return Hlc::from_parts(ms, 0); }

Value written(std::string text, Hlc time, ReplicaId writer = us) {
    Value v;
    v.as<Register>()->assign(writer, time, std::move(text));
    return v;
}

}  // namespace

TEST_CASE("expiry: join of values with TTLs is commutative, associative and idempotent") {
    meridian::test::check_join_laws<ExpiringLwwModel>();
}

TEST_CASE("expiry: joining a TTL write's delta gives the written state") {
    meridian::test::check_delta_mutators<ExpiringLwwModel>();
}

TEST_CASE("expiry: replicas converge on the latest TTL write, voided by a later SET") {
    meridian::test::check_convergence<ExpiringLwwModel>();
}

TEST_CASE("expiry: a key lives through its deadline's millisecond and is gone after it") {
    Value v = written("v", at(10));
    CHECK(v.live_at(1'000'000));
    v.expire(us, at(11), 500);
    CHECK(v.deadline() == 500u);
    CHECK(v.live_at(500));
    CHECK_FALSE(v.live_at(501));
    v.expire(us, at(12), std::nullopt);  // PERSIST
    CHECK_FALSE(v.deadline());
    CHECK(v.live_at(501));
}

TEST_CASE("expiry: a SET stamped after the TTL clears it, one stamped before does not") {
    Value v = written("v", at(10));
    v.expire(us, at(20), 500);
    Value older = v;
    REQUIRE(older.join(written("concurrent", at(15), eu)).has_value());
    CHECK(older.deadline() == 500u);  // the later TTL write applies to the value it joined
    REQUIRE(v.join(written("later", at(30), eu)).has_value());
    CHECK_FALSE(v.deadline());
    CHECK(v.live_at(10'000));
}

TEST_CASE("expiry: the later of two concurrent TTL writes wins at both regions") {
    Value base = written("v", at(10));
    Value a = base, b = base;
    const Value from_a = a.expire(us, at(20), 100);
    const Value from_b = b.expire(eu, at(21), std::nullopt);
    REQUIRE(a.join(from_b).has_value());
    REQUIRE(b.join(from_a).has_value());
    CHECK(a == b);
    CHECK_FALSE(a.deadline());  // eu's PERSIST is later
}

TEST_CASE("expiry: counters and sets keep their TTL across increments and adds") {
    Value counter = Value::empty(ValueType::counter);
    REQUIRE(counter.as<PnCounter>()->add(us, 5).has_value());
    counter.expire(us, at(10), 900);
    REQUIRE(counter.as<PnCounter>()->add(eu, 1).has_value());
    CHECK(counter.deadline() == 900u);

    Value set = Value::empty(ValueType::set);
    set.as<StringSet>()->add(us, "x");
    set.expire(us, at(10), 900);
    set.as<StringSet>()->add(us, "y");
    CHECK(set.deadline() == 900u);
    CHECK_FALSE(set.live_at(901));
}

TEST_CASE("expiry: a TTL write's delta holds only the TTL and joins into any state of its type") {
    Value v = written("v", at(10));
    const Value delta = v.expire(us, at(11), 700);
    CHECK_FALSE(delta.as<Register>()->written());
    CHECK(delta.expiry() != nullptr);
    Value elsewhere;
    REQUIRE(elsewhere.join(delta).has_value());
    CHECK(elsewhere.deadline() == 700u);
    CHECK_FALSE(elsewhere.exists());  // a TTL alone shows nothing
    Value counter = Value::empty(ValueType::counter);
    CHECK_FALSE(counter.join(delta).has_value());  // another type: refused
}

TEST_CASE("expiry: a value with a TTL survives encoding, one without encodes as before TTLs") {
    Value v = written("v", at(10));
    const std::string before_ttl = meridian::crdt::encode(v);
    v.expire(eu, at(11), 123456789);
    const auto decoded = meridian::crdt::decode<Value>(meridian::crdt::encode(v));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == v);
    CHECK(decoded->deadline() == 123456789u);

    // Values from before TTLs existed: cereal's variant index (zig-zag varint) first.
    CHECK(before_ttl[0] == 0);
    const auto old = meridian::crdt::decode<Value>(before_ttl);
    REQUIRE(old.has_value());
    CHECK(old->expiry() == nullptr);

    std::string bad_tag = before_ttl;
    bad_tag[0] = 2 * 9;  // index 9: no such type
    CHECK_FALSE(meridian::crdt::decode<Value>(bad_tag).has_value());
}
