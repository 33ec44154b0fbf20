#include "crdt/dot_context.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <set>
#include <vector>

#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Dot;
using meridian::crdt::DotContext;
using meridian::crdt::ReplicaId;
using meridian::crdt::VersionVector;
using meridian::test::check_property;
using meridian::test::pick;
using meridian::test::replica_pool;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

DotContext with(std::initializer_list<Dot> dots) {
    DotContext c;
    for (const Dot& d : dots) c.insert(d);
    c.compact();
    return c;
}

std::set<Dot> dots_of(const DotContext& c) {
    std::set<Dot> out;
    c.for_each_dot([&](const Dot& d) { out.insert(d); });
    return out;
}

// A context is compact when no cloud dot could move into the prefix.
bool compacted(const DotContext& c) {
    return std::all_of(c.cloud().begin(), c.cloud().end(),
                       [&](const Dot& d) { return d.seq > c.prefix().get(d.replica) + 1; });
}

}  // namespace

TEST_CASE("dot context: dots arriving out of order wait in the cloud until the gap closes") {
    DotContext c;
    c.insert({us, 3});
    c.insert({us, 1});
    c.compact();
    CHECK(c.prefix().get(us) == 1);
    CHECK(c.cloud() == std::set<Dot>{{us, 3}});
    CHECK(c.contains({us, 3}));
    CHECK_FALSE(c.contains({us, 2}));
    c.insert({us, 2});
    c.compact();
    CHECK(c.prefix().get(us) == 3);
    CHECK(c.cloud().empty());
    CHECK(c.dot_count() == 3);
}

TEST_CASE("dot context: a join closes gaps with the other side's dots and compacts") {
    DotContext a = with({{us, 1}, {us, 3}, {eu, 2}});
    a.join(with({{us, 2}, {eu, 1}}));
    CHECK(a.cloud().empty());
    CHECK(a.prefix().get(us) == 3);
    CHECK(a.prefix().get(eu) == 2);
    CHECK(a == with({{us, 1}, {us, 2}, {us, 3}, {eu, 1}, {eu, 2}}));
}

TEST_CASE("dot context: inserting a dot the prefix covers changes nothing") {
    DotContext c = with({{us, 1}, {us, 2}});
    const DotContext before = c;
    c.insert({us, 1});
    c.compact();
    CHECK(c == before);
}

TEST_CASE("dot context: make_dot continues after the highest dot seen, even in the cloud") {
    DotContext c = with({{us, 1}, {us, 5}});
    CHECK(c.make_dot(us) == Dot{us, 6});
    CHECK(c.make_dot(eu) == Dot{eu, 1});
    CHECK(c.contains({us, 6}));
    CHECK(c.contains({eu, 1}));
}

TEST_CASE("dot context: join is commutative, associative and idempotent") {
    check_property([] {
        const auto contexts = *meridian::test::dot_contexts();
        meridian::test::require_join_laws(pick(contexts), pick(contexts), pick(contexts));
    });
}

TEST_CASE("dot context: a join holds exactly the union of the dots, compacted") {
    check_property([] {
        const auto contexts = *meridian::test::dot_contexts();
        const DotContext& a = pick(contexts);
        const DotContext& b = pick(contexts);
        const DotContext j = meridian::test::joined(a, b);
        std::set<Dot> expected = dots_of(a);
        const auto from_b = dots_of(b);
        expected.insert(from_b.begin(), from_b.end());
        RC_ASSERT(dots_of(j) == expected);
        RC_ASSERT(j.dot_count() == expected.size());
        RC_ASSERT(compacted(j));
        for (const ReplicaId r : replica_pool)
            for (std::uint64_t s = 1; s <= 12; ++s)
                RC_ASSERT(j.contains({r, s}) == expected.contains({r, s}));
    });
}

TEST_CASE("dot context: contexts holding the same dots are equal however they were built") {
    check_property([] {
        const auto contexts = *meridian::test::dot_contexts();
        const DotContext& original = pick(contexts);
        auto dots = dots_of(original);
        std::vector<Dot> shuffled(dots.begin(), dots.end());
        std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
        std::shuffle(shuffled.begin(), shuffled.end(), rng);
        DotContext rebuilt;
        for (const Dot& d : shuffled) {
            rebuilt.insert(d);
            if (rng() % 4 == 0) rebuilt.compact();
        }
        rebuilt.compact();
        RC_ASSERT(rebuilt == original);
    });
}

TEST_CASE("dot context: joining a new dot's delta gives the context that made it") {
    check_property([] {
        const auto contexts = *meridian::test::dot_contexts();
        const DotContext& x = pick(contexts);
        DotContext y = x;
        const Dot dot = y.make_dot(pick(replica_pool));
        RC_ASSERT(!x.contains(dot));
        DotContext delta;
        delta.insert(dot);
        delta.compact();
        RC_ASSERT(meridian::test::joined(x, delta) == y);
    });
}

TEST_CASE("dot context: contexts joined in any order, with duplicates, end equal") {
    check_property([] {
        auto contexts = *meridian::test::dot_contexts();
        DotContext in_order;
        for (const auto& c : contexts) in_order.join(c);
        std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
        const std::size_t n = contexts.size();
        for (std::size_t i = 0; i < n; ++i)
            if (rng() % 3 == 0) contexts.push_back(contexts[i]);
        std::shuffle(contexts.begin(), contexts.end(), rng);
        DotContext shuffled;
        for (const auto& c : contexts) shuffled.join(c);
        RC_ASSERT(shuffled == in_order);
    });
}

TEST_CASE(
    "dot context: compacting moves each replica's contiguous run and leaves runs past a gap") {
    // A batch of joined deltas: us's dots start past a gap and must stay in the cloud however
    // many there are; eu's continue its prefix and must all move.
    DotContext c = with({{eu, 1}});
    for (std::uint64_t s = 100; s < 1100; ++s) c.insert({us, s});
    for (std::uint64_t s = 2; s < 500; ++s) c.insert({eu, s});
    c.insert({eu, 501});
    c.compact();
    CHECK(c.prefix().get(us) == 0);
    CHECK(c.prefix().get(eu) == 499);
    CHECK(c.cloud().size() == 1001);
    CHECK(c.contains({eu, 501}));
    CHECK(compacted(c));
    c.join(with({{us, 1}, {eu, 500}}));
    CHECK(c.prefix().get(eu) == 501);
    CHECK(c.prefix().get(us) == 1);
    CHECK(c.cloud().size() == 1000);
    for (std::uint64_t s = 2; s < 100; ++s) c.insert({us, s});
    c.compact();
    CHECK(c.prefix().get(us) == 1099);
    CHECK(c.cloud().empty());
}
