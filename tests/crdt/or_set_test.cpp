#include "crdt/or_set.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Dot;
using meridian::crdt::ReplicaId;
using meridian::test::OrSetModel;
using Set = meridian::crdt::OrSet<std::string>;
using Members = std::vector<std::string>;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

}  // namespace

TEST_CASE("or set: join is commutative, associative and idempotent") {
    meridian::test::check_join_laws<OrSetModel>();
}

TEST_CASE("or set: joining an add's, a remove's or a clear's delta gives the mutated state") {
    meridian::test::check_delta_mutators<OrSetModel>();
}

TEST_CASE(
    "or set: replicas converge on exactly the adds that no remove at a replica that had seen "
    "them removed") {
    meridian::test::check_convergence<OrSetModel>();
}

TEST_CASE("or set: add, remove, add again leaves the element in, wherever the deltas land") {
    Set a;
    const Set add1 = a.add(us, "x");
    const Set remove = a.remove("x");
    CHECK_FALSE(a.contains("x"));
    const Set add2 = a.add(us, "x");
    CHECK(a.value() == Members{"x"});

    // A replica that sees only the first add and the remove has no x ...
    Set b;
    b.join(remove);
    b.join(add1);
    CHECK(b.empty());
    // ... until the second add arrives; the first add's dot stays gone.
    b.join(add2);
    CHECK(b.value() == Members{"x"});
    CHECK(b == a);
    REQUIRE(b.entries().at("x").size() == 1);
    CHECK(b.entries().at("x")[0] == Dot{us, 2});
}

TEST_CASE("or set: an add concurrent with a remove survives") {
    Set a, b;
    b.join(a.add(us, "x"));
    const Set remove = a.remove("x");
    const Set readd = b.add(eu, "x");  // b has not seen the remove
    a.join(readd);
    b.join(remove);
    CHECK(a.value() == Members{"x"});
    CHECK(a == b);
}

TEST_CASE("or set: removing an element never seen has an empty delta and removes nothing") {
    Set a, b;
    b.join(a.add(us, "x"));
    const Set remove = b.remove("y");
    CHECK(remove == Set{});
    a.join(remove);
    CHECK(a.value() == Members{"x"});
}

TEST_CASE("or set: clear removes what it observed, and a concurrent add survives") {
    Set a, b;
    b.join(a.add(us, "x"));
    b.join(a.add(us, "y"));
    const Set concurrent = a.add(us, "z");
    const Set clear = b.clear();
    CHECK(b.empty());
    a.join(clear);
    b.join(concurrent);
    CHECK(a.value() == Members{"z"});
    CHECK(a == b);
}

TEST_CASE("or set: a copy has its own index, so mutating it leaves the original alone") {
    Set a;
    a.add(us, "x");
    Set copy = a;
    copy.remove("x");
    Set other;
    other.join(a);
    CHECK(a.contains("x"));
    CHECK(other.contains("x"));
    copy = a;
    copy.join(Set(a).clear());
    CHECK(copy.empty());
    CHECK(a.contains("x"));
}

TEST_CASE("or set: a small delta joined into a large set changes exactly the members it observed") {
    // The join finds what a delta removes through the delta's own dots (the smaller side), not
    // by walking the set: a remove of one member out of many leaves every other member as it was.
    Set big, replica;
    for (int i = 0; i < 5000; ++i) replica.join(big.add(us, "m" + std::to_string(i)));
    const Set remove = big.remove("m42");
    const Set readd = big.add(eu, "m7");
    replica.join(remove);
    replica.join(readd);
    CHECK(replica == big);
    CHECK(replica.size() == 4999);
    CHECK_FALSE(replica.contains("m42"));
    REQUIRE(replica.entries().at("m7").size() == 1);
    CHECK(replica.entries().at("m7")[0] == Dot{eu, 1});
    const Members members = replica.value();  // in member order, whatever the hash map's
    CHECK(members.front() == "m0");
    CHECK(std::is_sorted(members.begin(), members.end()));
}

TEST_CASE("or set: a join counts the members a remove left, for adds it had not observed") {
    Set a, b;
    const Set first = a.add(us, "x");
    b.join(first);
    (void)b.add(eu, "x");  // replaces the dot b saw; a never sees this add
    const Set observed_add = b.add(eu, "y");
    a.join(observed_add);
    CHECK(b.join(a.remove("y")) == 0);  // removed everything of y: no conflict
    const Set remove_x = a.remove("x");
    Set c = b;
    CHECK(c.join(remove_x) == 0);  // b's add of x replaced the dot the remove saw
    CHECK(c.contains("x"));

    Set d;
    d.join(first);
    d.join(b.add(eu, "x"));  // d holds x twice over: the first add's dot and eu's
    Set only_first;
    only_first.join(first);
    CHECK(d.join(only_first.remove("x")) == 1);  // the remove saw one add of x, not eu's
    CHECK(d.contains("x"));
}

TEST_CASE("or set: a join counts an add that revives a member removed concurrently") {
    Set us_side, eu_side;
    const Set first = us_side.add(us, "red");
    eu_side.join(first);
    const Set removal = eu_side.remove("red");
    const Set re_add = us_side.add(us, "red");  // replaces the dot the remove took out
    Set replay = eu_side;
    CHECK(eu_side.join(re_add) == 1);
    CHECK(eu_side.contains("red"));
    CHECK(eu_side.join(re_add) == 0);   // a replay counts nothing
    CHECK(us_side.join(removal) == 0);  // the remove finds nothing of red it observed
    CHECK(us_side.contains("red"));

    // An add made after the remove was seen replaces nothing: no conflict.
    Set later;
    later.join(first);
    later.join(removal);
    CHECK(replay.join(later.add(eu, "red")) == 0);
}
