#include "crdt/version_vector.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Causality;
using meridian::crdt::ReplicaId;
using meridian::crdt::VersionVector;
using meridian::test::check_property;
using meridian::test::pick;
using meridian::test::replica_pool;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId us_restarted{1, 1};
constexpr ReplicaId eu{2, 0};

VersionVector vv(std::initializer_list<std::pair<ReplicaId, std::uint64_t>> entries) {
    VersionVector v;
    for (const auto& [r, seq] : entries) v.advance(r, seq);
    return v;
}

// The relation computed entry by entry over the pool, missing entries as 0.
Causality model_compare(const VersionVector& a, const VersionVector& b) {
    bool ahead = false, behind = false;
    for (const ReplicaId r : replica_pool) {
        ahead |= a.get(r) > b.get(r);
        behind |= a.get(r) < b.get(r);
    }
    if (ahead && behind) return Causality::concurrent;
    if (ahead) return Causality::dominates;
    if (behind) return Causality::dominated;
    return Causality::equal;
}

}  // namespace

TEST_CASE("version vector: compare tells equal, dominates, dominated and concurrent apart") {
    const VersionVector empty;
    const VersionVector a = vv({{us, 3}, {eu, 5}});
    CHECK(empty.compare(VersionVector{}) == Causality::equal);
    CHECK(a.compare(vv({{eu, 5}, {us, 3}})) == Causality::equal);
    CHECK(a.compare(vv({{us, 3}, {eu, 4}})) == Causality::dominates);
    CHECK(a.compare(vv({{us, 3}})) == Causality::dominates);  // a missing entry is 0
    CHECK(a.compare(empty) == Causality::dominates);
    CHECK(empty.compare(a) == Causality::dominated);
    CHECK(a.compare(vv({{us, 4}, {eu, 5}})) == Causality::dominated);
    CHECK(a.compare(vv({{us, 4}, {eu, 1}})) == Causality::concurrent);
    CHECK(a.compare(vv({{us, 3}, {eu, 5}, {us_restarted, 1}})) == Causality::dominated);
    CHECK(a.compare(vv({{us, 1}, {us_restarted, 1}})) == Causality::concurrent);
    CHECK(a.includes(vv({{us, 3}})));
    CHECK_FALSE(vv({{us, 3}}).includes(a));
}

TEST_CASE("version vector: advance never lowers an entry and never stores a zero") {
    VersionVector v = vv({{us, 4}});
    v.advance(us, 2);
    CHECK(v.get(us) == 4);
    v.advance(eu, 0);
    CHECK(v == vv({{us, 4}}));
    CHECK(v.entries().size() == 1);
    CHECK(v.contains({us, 4}));
    CHECK_FALSE(v.contains({us, 5}));
    CHECK_FALSE(v.contains({eu, 1}));
}

TEST_CASE("version vector: meet is the pointwise minimum and drops entries that reach zero") {
    VersionVector a = vv({{us, 3}, {eu, 5}});
    a.meet(vv({{us, 7}, {us_restarted, 2}}));
    CHECK(a == vv({{us, 3}}));
    CHECK(a.to_string() == "{1.0:3}");
}

TEST_CASE("version vector: total and to_string summarise the entries") {
    const VersionVector a = vv({{eu, 5}, {us_restarted, 2}, {us, 3}});
    CHECK(a.total() == 10);
    CHECK(a.to_string() == "{1.0:3, 1.1:2, 2.0:5}");
}

TEST_CASE("version vector: merge is commutative, associative and idempotent") {
    check_property([] {
        const auto vvs = *meridian::test::version_vectors();
        meridian::test::require_join_laws(pick(vvs), pick(vvs), pick(vvs));
    });
}

TEST_CASE("version vector: merge is the pointwise maximum and meet the pointwise minimum") {
    check_property([] {
        const auto vvs = *meridian::test::version_vectors();
        const VersionVector& a = pick(vvs);
        const VersionVector& b = pick(vvs);
        VersionVector merged = a, met = a;
        merged.merge(b);
        met.meet(b);
        for (const ReplicaId r : replica_pool) {
            RC_ASSERT(merged.get(r) == std::max(a.get(r), b.get(r)));
            RC_ASSERT(met.get(r) == std::min(a.get(r), b.get(r)));
        }
        for (const auto& e : merged.entries()) RC_ASSERT(e.seq != 0);
        for (const auto& e : met.entries()) RC_ASSERT(e.seq != 0);
        RC_ASSERT(merged.includes(a));
        RC_ASSERT(merged.includes(b));
        RC_ASSERT(a.includes(met));
    });
}

TEST_CASE("version vector: compare agrees with the entries and is antisymmetric") {
    check_property([] {
        const auto vvs = *meridian::test::version_vectors();
        const VersionVector& a = pick(vvs);
        const VersionVector& b = pick(vvs);
        const Causality c = a.compare(b);
        RC_ASSERT(c == model_compare(a, b));
        RC_ASSERT((c == Causality::equal) == (a == b));
        const Causality flipped = c == Causality::dominates   ? Causality::dominated
                                  : c == Causality::dominated ? Causality::dominates
                                                              : c;
        RC_ASSERT(b.compare(a) == flipped);
        RC_ASSERT(a.includes(b) == (c == Causality::equal || c == Causality::dominates));
    });
}

TEST_CASE("version vector: merging an advance's delta gives the advanced vector") {
    check_property([] {
        const auto vvs = *meridian::test::version_vectors();
        const VersionVector& x = pick(vvs);
        const ReplicaId r = pick(replica_pool);
        const auto seq = *rc::gen::inRange<std::uint64_t>(0, 12);
        VersionVector y = x;
        y.advance(r, seq);
        VersionVector delta;
        delta.advance(r, seq);
        RC_ASSERT(meridian::test::joined(x, delta) == y);
    });
}

TEST_CASE("version vector: vectors merged in any order, with duplicates, end equal") {
    check_property([] {
        auto vvs = *meridian::test::version_vectors();
        VersionVector in_order;
        for (const auto& v : vvs) in_order.merge(v);
        std::mt19937_64 rng(*rc::gen::arbitrary<std::uint64_t>());
        const std::size_t n = vvs.size();
        for (std::size_t i = 0; i < n; ++i)
            if (rng() % 3 == 0) vvs.push_back(vvs[i]);
        std::shuffle(vvs.begin(), vvs.end(), rng);
        VersionVector shuffled;
        for (const auto& v : vvs) shuffled.merge(v);
        RC_ASSERT(shuffled == in_order);
    });
}
