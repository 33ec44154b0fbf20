#include "crdt/pn_counter.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>

#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Error;
using meridian::crdt::PnCounter;
using meridian::crdt::ReplicaId;
using meridian::test::PnCounterModel;
using meridian::test::SealedCounterModel;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};
constexpr std::int64_t int64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t int64_max = std::numeric_limits<std::int64_t>::max();

// Adds `amount` and returns the delta; the add must be accepted.
PnCounter add(PnCounter& c, ReplicaId r, std::int64_t amount) {
    auto delta = c.add(r, amount);
    REQUIRE(delta.has_value());
    return *delta;
}

// The add must be refused for overflow and leave `c` as it was.
void require_overflow(PnCounter& c, ReplicaId r, std::int64_t amount) {
    const PnCounter before = c;
    auto delta = c.add(r, amount);
    REQUIRE_FALSE(delta.has_value());
    REQUIRE(delta.error() == Error::overflow);
    REQUIRE(c == before);
}

}  // namespace

TEST_CASE("pn counter: join is commutative, associative and idempotent") {
    meridian::test::check_join_laws<PnCounterModel>();
}

TEST_CASE("pn counter: joining an add's or a reset's delta gives the mutated state") {
    meridian::test::check_delta_mutators<PnCounterModel>();
}

TEST_CASE(
    "pn counter: replicas converge on the sum of acknowledged adds that no observing reset "
    "removed") {
    meridian::test::check_convergence<PnCounterModel>();
}

TEST_CASE("pn counter: an add that would pass INT64_MAX is refused and changes nothing") {
    PnCounter c;
    add(c, us, int64_max - 1);
    add(c, us, 1);
    CHECK(c.value() == int64_max);
    require_overflow(c, us, 1);
    require_overflow(c, eu, int64_max);
    add(c, eu, -1);
    CHECK(c.value() == int64_max - 1);
}

TEST_CASE("pn counter: an add that would pass INT64_MIN is refused, INT64_MIN itself is not") {
    PnCounter c;
    add(c, us, int64_min);
    CHECK(c.value() == int64_min);
    require_overflow(c, us, -1);
    require_overflow(c, eu, int64_min);
    add(c, eu, int64_max);
    CHECK(c.value() == -1);
}

TEST_CASE("pn counter: an INT64_MIN amount is recorded as a decrement of 2^63") {
    PnCounter c;
    const PnCounter delta = add(c, us, int64_min);
    REQUIRE(delta.entries().size() == 1);
    CHECK(delta.entries()[0].decrements == std::uint64_t{1} << 63);
    CHECK(delta.entries()[0].increments == 0);
}

TEST_CASE("pn counter: an add that would wrap the replica's own totals is refused") {
    // The value stays in range (-2) but the decrements total would pass 2^64.
    PnCounter c;
    add(c, us, int64_min);
    add(c, us, int64_max);
    add(c, us, int64_max);
    CHECK(c.value() == int64_max - 1);
    require_overflow(c, us, int64_min);
    // Another replica has its own totals and may do it.
    add(c, eu, int64_min);
    CHECK(c.value() == -2);
}

TEST_CASE("pn counter: concurrent adds past the int64 range saturate instead of wrapping") {
    PnCounter a, b;
    const PnCounter from_a = add(a, us, int64_max);
    const PnCounter from_b = add(b, eu, int64_max);
    a.join(from_b);
    b.join(from_a);
    CHECK(a.value() == int64_max);
    CHECK(a == b);

    PnCounter c, d;
    const PnCounter from_c = add(c, us, int64_min);
    d.join(add(d, eu, int64_min));
    d.join(from_c);
    CHECK(d.value() == int64_min);
}

TEST_CASE("pn counter: a reset removes what it observed and a concurrent add survives") {
    PnCounter a, b;
    b.join(add(a, us, 10));
    const PnCounter concurrent = add(a, us, 5);  // b has not seen this one
    const PnCounter reset = b.reset();
    CHECK(b.value() == 0);
    a.join(reset);
    b.join(concurrent);
    CHECK(a.value() == 5);
    CHECK(b.value() == 5);
    CHECK(a.has_contributions());
}

TEST_CASE("pn counter: two concurrent resets remove what they observed once, not twice") {
    PnCounter a, b;
    b.join(add(a, us, 7));
    a.join(add(b, eu, -3));
    b.join(a);
    const PnCounter reset_a = a.reset();
    const PnCounter reset_b = b.reset();
    a.join(reset_b);
    b.join(reset_a);
    CHECK(a.value() == 0);
    CHECK(b.value() == 0);
    CHECK_FALSE(a.has_contributions());
    add(a, us, 2);
    CHECK(a.value() == 2);
}

TEST_CASE("pn counter: a join says whether it raised an entry") {
    PnCounter a, b;
    const auto from_a = a.add(us, 5);
    REQUIRE(from_a);
    CHECK(b.join(*from_a));
    CHECK_FALSE(b.join(*from_a));    // seen already
    CHECK_FALSE(b.join(b.reset()));  // a reset raises baselines, not entries
}

TEST_CASE("sealed pn counter: join is commutative, associative and idempotent") {
    meridian::test::check_join_laws<SealedCounterModel>();
}

TEST_CASE("sealed pn counter: joining an add's, a reset's or a seal's delta gives the mutated state") {
    meridian::test::check_delta_mutators<SealedCounterModel>();
}

TEST_CASE("sealed pn counter: replicas converge on the newest seal's base plus its owner's later adds") {
    meridian::test::check_convergence<SealedCounterModel>();
}

TEST_CASE("sealed pn counter: the old owner's writes the new owner never saw do not count") {
    // us owns the balance (floor 0), holds 100, and ships everything but its last withdrawal.
    PnCounter old_home;
    const PnCounter shipped = add(old_home, us, 100);
    const PnCounter unshipped = add(old_home, us, -80);  // applied in its last lease, then cut off
    REQUIRE(old_home.value() == 20);

    // eu takes the home over with what it holds (100), seals, and withdraws 90.
    PnCounter new_home;
    new_home.join(shipped);
    PnCounter delta = new_home.seal(eu, 1);
    delta.join(add(new_home, eu, -90));
    REQUIRE(new_home.value() == 10);
    CHECK(new_home.sealed_epoch() == 1);

    // Without the seal the two withdrawals would meet at -70. With it, the late one is void
    // wherever it arrives, in either order.
    new_home.join(unshipped);
    CHECK(new_home.value() == 10);
    old_home.join(delta);
    CHECK(old_home.value() == 10);
    CHECK(old_home == new_home);

    // The late withdrawal is reported as undone when it reaches the sealed counter; the seal
    // reaching the old owner's state is not (that state was not sealed before).
    PnCounter again;
    again.join(shipped);
    (void)again.join(delta);
    bool sealed_out = false;
    again.join(unshipped, &sealed_out);
    CHECK(sealed_out);
    sealed_out = false;
    PnCounter before_seal = shipped;
    before_seal.join(unshipped);
    before_seal.join(delta, &sealed_out);
    CHECK_FALSE(sealed_out);

    // The old owner can no longer write it; the new owner can.
    auto refused = old_home.add(us, 5);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == Error::invalid_argument);
    add(new_home, eu, 5);
    CHECK(new_home.value() == 15);
}

TEST_CASE("sealed pn counter: a reset under a seal keeps the owner's adds it had not seen") {
    PnCounter owner;
    add(owner, us, 7);
    const PnCounter sealed = owner.seal(eu, 2);
    const PnCounter first = add(owner, eu, 3);
    REQUIRE(owner.value() == 10);

    PnCounter other;  // saw the seal and the first add, then resets
    other.join(sealed);
    other.join(first);
    const PnCounter reset = other.reset();
    CHECK(other.value() == 0);
    CHECK_FALSE(other.has_contributions());
    REQUIRE(other.seal_in_force()->generation == 2);

    const PnCounter concurrent = add(owner, eu, 4);  // not seen by the reset
    owner.join(reset);
    other.join(concurrent);
    CHECK(owner.value() == 4);
    CHECK(other.value() == owner.value());
    CHECK(owner.has_contributions());
}
