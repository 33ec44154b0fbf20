#include "crdt/lww_register.hpp"

#include <catch2/catch.hpp>
#include <optional>
#include <string>

#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Hlc;
using meridian::crdt::ReplicaId;
using meridian::test::LwwModel;
using Register = meridian::crdt::LwwRegister<std::string>;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

Hlc at(std::uint64_t ms, std::uint16_t logical = 0) {
    return Hlc::from_parts(ms, logical);
}

}  // namespace

TEST_CASE("lww register: join is commutative, associative and idempotent") {
    meridian::test::check_join_laws<LwwModel>();
}

TEST_CASE("lww register: joining a write's delta gives the written state, even a losing write") {
    meridian::test::check_delta_mutators<LwwModel>();
}

TEST_CASE("lww register: replicas converge on the write with the highest (time, writer) stamp") {
    meridian::test::check_convergence<LwwModel>();
}

TEST_CASE("lww register: on equal times the higher writer wins, in either join order") {
    Register a, b;
    const Register from_a = a.assign(us, at(10), "us");
    const Register from_b = b.assign(eu, at(10), "eu");
    a.join(from_b);
    b.join(from_a);
    CHECK(a.value() == "eu");
    CHECK(a == b);
}

TEST_CASE("lww register: equal stamps with different values still join commutatively") {
    // One write carries one value, so this should never happen; if it does,
    // both sides must still pick the same value.
    Register a, b;
    a.assign(us, at(10), "apple");
    b.assign(us, at(10), "banana");
    Register ab = a, ba = b;
    ab.join(b);
    ba.join(a);
    CHECK(ab == ba);
    CHECK(ab.value() == "banana");
    Register deleted;
    deleted.assign(us, at(10), std::nullopt);
    Register d = deleted;
    d.join(a);
    a.join(deleted);
    CHECK(a == d);
}

TEST_CASE("lww register: a delete stamped later wins, one stamped earlier loses") {
    Register r;
    r.assign(us, at(10), "v");
    r.assign(eu, at(9), std::nullopt);
    CHECK(r.value() == "v");
    r.assign(eu, at(11), std::nullopt);
    CHECK_FALSE(r.value().has_value());
    CHECK(r.written());
    r.assign(us, at(11, 1), "back");
    CHECK(r.value() == "back");
}

TEST_CASE("lww register: a write stamped after receiving wins over what was received") {
    Register a, b;
    Hlc clock_a, clock_b;
    clock_a = Hlc::tick(clock_a, 500);  // a's wall clock is ahead
    const Register from_a = a.assign(us, clock_a, "from us");
    b.join(from_a);
    clock_b = Hlc::receive(clock_b, from_a.stamp().time, 100);
    clock_b = Hlc::tick(clock_b, 100);
    const Register from_b = b.assign(eu, clock_b, "from eu");
    a.join(from_b);
    CHECK(a.value() == "from eu");
    CHECK(a == b);
}

TEST_CASE("lww register: bottom is never written and joins as the identity") {
    Register bottom;
    CHECK_FALSE(bottom.written());
    CHECK_FALSE(bottom.value().has_value());
    Register r;
    r.assign(us, at(1), "v");
    Register joined = r;
    joined.join(bottom);
    CHECK(joined == r);
    bottom.join(r);
    CHECK(bottom == r);
}
