#include "crdt/value.hpp"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "show.hpp"

namespace {

using meridian::crdt::BoundedCounter;
using meridian::crdt::Error;
using meridian::crdt::Hlc;
using meridian::crdt::PnCounter;
using meridian::crdt::Register;
using meridian::crdt::ReplicaId;
using meridian::crdt::StringSet;
using meridian::crdt::Value;
using meridian::crdt::ValueType;

constexpr ReplicaId us{1, 0};

}  // namespace

TEST_CASE("value: the empty value of each type has that type and does not exist") {
    for (const ValueType t :
         {ValueType::lww, ValueType::counter, ValueType::set, ValueType::bounded_counter}) {
        const Value v = Value::empty(t);
        CHECK(v.type() == t);
        CHECK_FALSE(v.exists());
    }
    CHECK(Value{}.type() == ValueType::lww);
    CHECK(name_of(ValueType::bounded_counter) == "bounded_counter");
}

TEST_CASE("value: joining a value of another type is refused and changes nothing") {
    Value counter(PnCounter{});
    REQUIRE(counter.as<PnCounter>()->add(us, 3).has_value());
    const Value before = counter;
    Register r;
    r.assign(us, Hlc::from_parts(1, 0), "v");
    const auto joined = counter.join(Value(r));
    REQUIRE_FALSE(joined.has_value());
    CHECK(joined.error() == Error::type_mismatch);
    CHECK(counter == before);
}

TEST_CASE("value: joining a value of the same type joins the states") {
    Value a(StringSet{}), b(StringSet{});
    a.as<StringSet>()->add(us, "x");
    b.as<StringSet>()->add(ReplicaId{2, 0}, "y");
    REQUIRE(a.join(b).has_value());
    CHECK(a.as<StringSet>()->value() == std::vector<std::string>{"x", "y"});
    CHECK(a.as<PnCounter>() == nullptr);
}

TEST_CASE("value: a key exists while its state shows something to a client") {
    Value reg(Register{});
    reg.as<Register>()->assign(us, Hlc::from_parts(1, 0), "v");
    CHECK(reg.exists());
    reg.as<Register>()->assign(us, Hlc::from_parts(2, 0), std::nullopt);
    CHECK_FALSE(reg.exists());

    Value counter(PnCounter{});
    REQUIRE(counter.as<PnCounter>()->add(us, 5).has_value());
    CHECK(counter.exists());
    counter.as<PnCounter>()->reset();
    CHECK_FALSE(counter.exists());

    Value set(StringSet{});
    set.as<StringSet>()->add(us, "x");
    CHECK(set.exists());
    set.as<StringSet>()->remove("x");
    CHECK_FALSE(set.exists());

    Value bounded(BoundedCounter{});
    REQUIRE(bounded.as<BoundedCounter>()->increment(us, 0).has_value());
    CHECK(bounded.exists());
}

TEST_CASE("value: a moved-from value can be assigned again") {
    // The keyspace moves values in and out of its table; what is left behind
    // must stay assignable, whatever the alternative.
    Value a(StringSet{});
    a.as<StringSet>()->add(us, "x");
    Value b = std::move(a);
    a = b;
    CHECK(a == b);
    Value c(PnCounter{});
    c = std::move(b);
    b = c;
    CHECK(b == c);
    CHECK(b.as<StringSet>()->contains("x"));
}

TEST_CASE("value: heap_bytes follows what a state holds on the heap") {
    // Empty states own nothing but a set's box.
    CHECK(Value::empty(ValueType::lww).heap_bytes() == 0);
    CHECK(Value::empty(ValueType::counter).heap_bytes() == 0);
    CHECK(Value::empty(ValueType::bounded_counter).heap_bytes() == 0);
    CHECK(Value::empty(ValueType::set).heap_bytes() >= sizeof(StringSet));

    // A register: nothing for a short string (kept inside it), at least the bytes of a long one.
    Value reg(Register{});
    reg.as<Register>()->assign(us, Hlc::from_parts(1, 0), "short");
    CHECK(reg.heap_bytes() == 0);
    reg.as<Register>()->assign(us, Hlc::from_parts(2, 0), std::string(1000, 'v'));
    CHECK(reg.heap_bytes() >= 1001);
    CHECK(reg.heap_bytes() < 1100);

    // A counter: one writer's entry fits inside it, more take a block.
    Value counter(PnCounter{});
    REQUIRE(counter.as<PnCounter>()->add(us, 5).has_value());
    CHECK(counter.heap_bytes() == 0);
    REQUIRE(counter.as<PnCounter>()->add(ReplicaId{2, 0}, 5).has_value());
    REQUIRE(counter.as<PnCounter>()->add(ReplicaId{3, 0}, 5).has_value());
    CHECK(counter.heap_bytes() >= 3 * sizeof(PnCounter::Entry));

    // A set: grows with its members and shrinks again when they are removed.
    Value set(StringSet{});
    const std::size_t empty = set.heap_bytes();
    for (int i = 0; i < 100; ++i) set.as<StringSet>()->add(us, "member" + std::to_string(i));
    const std::size_t full = set.heap_bytes();
    CHECK(full > empty + 100 * 2 * sizeof(std::string));
    for (int i = 0; i < 100; ++i) set.as<StringSet>()->remove("member" + std::to_string(i));
    CHECK(set.heap_bytes() < full);
}
