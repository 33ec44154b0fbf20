#include "crdt/bounded_counter.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>

#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::BoundedCounter;
using meridian::crdt::Error;
using meridian::crdt::ReplicaId;
using meridian::test::BoundedCounterModel;
using Floor = BoundedCounter::Floor;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};
constexpr ReplicaId ap{3, 0};
constexpr Floor zero{0, us};

BoundedCounter increment(BoundedCounter& c, ReplicaId r, std::uint64_t amount) {
    auto delta = c.increment(r, amount);
    REQUIRE(delta.has_value());
    return *delta;
}

BoundedCounter decrement(BoundedCounter& c, ReplicaId r, std::uint64_t amount, const Floor& f) {
    auto delta = c.decrement(r, amount, f);
    REQUIRE(delta.has_value());
    return *delta;
}

BoundedCounter transfer(BoundedCounter& c, ReplicaId from, ReplicaId to, std::uint64_t amount,
                        const Floor& f) {
    auto delta = c.transfer(from, to, amount, f);
    REQUIRE(delta.has_value());
    return *delta;
}

}  // namespace

TEST_CASE("bounded counter: join is commutative, associative and idempotent") {
    meridian::test::check_join_laws<BoundedCounterModel>();
}

TEST_CASE(
    "bounded counter: joining an increment's, decrement's or transfer's delta gives the "
    "mutated state, and a refusal changes nothing") {
    meridian::test::check_delta_mutators<BoundedCounterModel>();
}

TEST_CASE(
    "bounded counter: no view goes below the floor after any join, and replicas converge on "
    "every acknowledged change") {
    meridian::test::check_convergence<BoundedCounterModel>();
}

TEST_CASE(
    "bounded counter: a decrement beyond the replica's rights is refused and changes nothing") {
    BoundedCounter c;
    increment(c, us, 5);
    const BoundedCounter before = c;
    auto refused = c.decrement(eu, 1, zero);  // eu holds no rights
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == Error::insufficient_rights);
    CHECK(c == before);
    refused = c.decrement(us, 6, zero);
    REQUIRE_FALSE(refused.has_value());
    CHECK(c == before);
    decrement(c, us, 5, zero);
    CHECK(c.value() == 0);
}

TEST_CASE("bounded counter: a transfer to oneself is refused and changes nothing") {
    BoundedCounter c;
    increment(c, us, 5);
    const BoundedCounter before = c;
    auto refused = c.transfer(us, us, 1, zero);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == Error::invalid_argument);
    CHECK(c == before);
}

TEST_CASE("bounded counter: a transfer moves rights, never value") {
    BoundedCounter c;
    increment(c, us, 5);
    transfer(c, us, eu, 3, zero);
    CHECK(c.value() == 5);
    CHECK(c.rights(us, zero) == 2);
    CHECK(c.rights(eu, zero) == 3);
    CHECK_FALSE(c.transfer(us, eu, 3, zero).has_value());
}

TEST_CASE("bounded counter: with a negative floor the initial rights belong to the holder") {
    const Floor overdraft{-10, eu};
    BoundedCounter c;
    CHECK(c.rights(eu, overdraft) == 10);
    CHECK(c.rights(us, overdraft) == 0);
    CHECK_FALSE(c.decrement(us, 1, overdraft).has_value());

    BoundedCounter at_us;
    at_us.join(transfer(c, eu, us, 4, overdraft));
    decrement(at_us, us, 4, overdraft);
    decrement(c, eu, 6, overdraft);
    c.join(at_us);
    CHECK(c.value() == -10);
    CHECK(c.rights(eu, overdraft) == 0);
    CHECK(c.rights(us, overdraft) == 0);
    CHECK_FALSE(c.decrement(eu, 1, overdraft).has_value());
}

TEST_CASE("bounded counter: a decrement seen before the transfer that allowed it keeps the floor") {
    BoundedCounter us_view, eu_view, ap_view;
    eu_view.join(increment(us_view, us, 5));
    const BoundedCounter moved = transfer(us_view, us, eu, 5, zero);
    eu_view.join(moved);
    const BoundedCounter spent = decrement(eu_view, eu, 5, zero);
    ap_view.join(spent);  // the transfer itself never reached ap
    CHECK(ap_view.value() == 0);
}

TEST_CASE("bounded counter: an increment seen before the decrements it follows keeps the floor") {
    // eu spends rights it was given, then increments. Its increment's delta
    // alone must not carry the decrements without the transfer behind them.
    BoundedCounter us_view, eu_view, ap_view;
    increment(us_view, us, 5);
    eu_view.join(transfer(us_view, us, eu, 5, zero));
    decrement(eu_view, eu, 5, zero);
    ap_view.join(increment(eu_view, eu, 1));
    CHECK(ap_view.value() >= 0);
    CHECK(ap_view.rights(eu, zero) >= 0);
}

TEST_CASE("bounded counter: an increment that would pass INT64_MAX is refused") {
    constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    BoundedCounter c;
    increment(c, us, int64_max - 1);
    const BoundedCounter before = c;
    auto refused = c.increment(eu, 2);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == Error::overflow);
    CHECK(c == before);
    increment(c, eu, 1);
    CHECK(c.value() == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("bounded counter: written() tells whether the key exists") {
    BoundedCounter c;
    CHECK_FALSE(c.written());
    increment(c, ap, 0);
    CHECK(c.written());
}
