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
