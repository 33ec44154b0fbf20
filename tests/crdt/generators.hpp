// RapidCheck generators for the CRDT tests: a small replica pool (so
// concurrency and collisions actually happen), operations for each model,
// histories, simulations run from them, and version vectors and dot contexts
// built by replicas that write and exchange partially. Test code only.
#pragma once

#include <rapidcheck.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crdt/dot_context.hpp"
#include "crdt/version_vector.hpp"
#include "models.hpp"
#include "simulation.hpp"

namespace meridian::test {

// Five replicas: regions 1 and 2 appear in two epochs each (a restarted
// region is a new replica), listed out of order so entries are inserted at
// the front, middle and back of the sorted tables.
inline const std::vector<crdt::ReplicaId> replica_pool = {{2, 0}, {1, 0}, {3, 0}, {1, 1}, {2, 1}};

// A replica index, reduced modulo the replica count when used; it shrinks
// towards replica 0.
inline rc::Gen<std::size_t> any_replica() {
    return rc::gen::inRange<std::size_t>(0, replica_pool.size());
}

// A delta, counted back from the newest one made so far (modulo their
// number). Mostly a recent one, so that new deltas often overtake old ones.
inline rc::Gen<std::size_t> any_delta() {
    return rc::gen::weightedOneOf<std::size_t>({
        {3, rc::gen::inRange<std::size_t>(0, 3)},
        {1, rc::gen::inRange<std::size_t>(0, 100)},
    });
}

// The first 2..5 replicas of the pool.
inline rc::Gen<std::vector<crdt::ReplicaId>> replica_ids() {
    return rc::gen::map(
        rc::gen::inRange<std::size_t>(2, replica_pool.size() + 1), [](std::size_t n) {
            return std::vector<crdt::ReplicaId>(replica_pool.begin(), replica_pool.begin() + n);
        });
}

template <class Op>
rc::Gen<Step<Op>> step(rc::Gen<Op> op) {
    using S = Step<Op>;
    return rc::gen::weightedOneOf<S>({
        {6, rc::gen::apply(
                [](std::size_t r, Op o) {
                    return S{S::Kind::mutate, r, 0, std::move(o)};
                },
                any_replica(), op)},
        {3, rc::gen::apply(
                [](std::size_t r, std::size_t d) {
                    return S{S::Kind::deliver, r, d, {}};
                },
                any_replica(), any_delta())},
        {1, rc::gen::apply(
                [](std::size_t r, std::size_t s) {
                    return S{S::Kind::sync, r, s, {}};
                },
                any_replica(), any_replica())},
    });
}

// ---------------------------------------------------------------- operations

// Mostly small amounts; sometimes the int64 limits, so that refusals happen.
inline rc::Gen<std::int64_t> counter_amount() {
    using L = std::numeric_limits<std::int64_t>;
    return rc::gen::weightedOneOf<std::int64_t>({
        {14, rc::gen::inRange<std::int64_t>(-20, 21)},
        {1, rc::gen::element(L::min(), L::max(), L::min() + 1, L::max() - 1, L::max() / 2 + 1,
                             -(L::max() / 2) - 1)},
        {1, rc::gen::arbitrary<std::int64_t>()},
    });
}

// Models: how to make one (inside a property) and its operations.
template <class Model>
struct Arbitrary;

template <>
struct Arbitrary<PnCounterModel> {
    static PnCounterModel make() { return {}; }
    static rc::Gen<PnCounterModel::Op> op() {
        return rc::gen::weightedOneOf<PnCounterModel::Op>({
            {8, rc::gen::map(counter_amount(),
                             [](std::int64_t a) {
                                 return PnCounterModel::Op{false, a};
                             })},
            {1, rc::gen::just(PnCounterModel::Op{true, 0})},
        });
    }
};

template <>
struct Arbitrary<SealedCounterModel> {
    static SealedCounterModel make() { return {}; }
    static rc::Gen<SealedCounterModel::Op> op() {
        using Kind = SealedCounterModel::Kind;
        return rc::gen::weightedOneOf<SealedCounterModel::Op>({
            {8, rc::gen::map(counter_amount(),
                             [](std::int64_t a) {
                                 return SealedCounterModel::Op{Kind::add, a};
                             })},
            {1, rc::gen::just(SealedCounterModel::Op{Kind::reset, 0})},
            {2, rc::gen::map(rc::gen::inRange<std::int64_t>(0, 2),
                             [](std::int64_t a) {
                                 return SealedCounterModel::Op{Kind::take_over, a};
                             })},
        });
    }
};

template <>
struct Arbitrary<LwwModel> {
    static LwwModel make() { return {}; }
    static rc::Gen<LwwModel::Op> op() {
        auto value = rc::gen::element<std::optional<std::string>>("a", "b", "c", std::nullopt);
        auto now = rc::gen::weightedOneOf<std::uint64_t>({
            {12, rc::gen::inRange<std::uint64_t>(0, 8)},
            {1, rc::gen::just(crdt::Hlc::max_physical_ms)},
        });
        auto stale = rc::gen::weightedElement<bool>({{4, false}, {1, true}});
        return rc::gen::apply(
            [](std::optional<std::string> v, std::uint64_t n, bool s) {
                return LwwModel::Op{std::move(v), n, s};
            },
            value, now, stale);
    }
};

template <>
struct Arbitrary<ExpiringLwwModel> {
    static ExpiringLwwModel make() { return {}; }
    static rc::Gen<ExpiringLwwModel::Op> op() {
        using Kind = ExpiringLwwModel::Op::Kind;
        auto kind = rc::gen::weightedElement<Kind>({{3, Kind::set},
                                                    {2, Kind::set_keep_ttl},
                                                    {2, Kind::set_expiring},
                                                    {1, Kind::remove},
                                                    {3, Kind::expire},
                                                    {1, Kind::persist}});
        // Few clock values, so that stamps collide on time and differ by writer.
        return rc::gen::apply(
            [](Kind k, std::string v, std::uint64_t deadline, std::uint64_t now) {
                return ExpiringLwwModel::Op{k, std::move(v), deadline, now};
            },
            kind, rc::gen::element<std::string>("a", "b", "c"), rc::gen::inRange<std::uint64_t>(1, 6),
            rc::gen::inRange<std::uint64_t>(0, 8));
    }
};

template <>
struct Arbitrary<OrSetModel> {
    static OrSetModel make() { return {}; }
    static rc::Gen<OrSetModel::Op> op() {
        using Kind = OrSetModel::Op::Kind;
        auto kind =
            rc::gen::weightedElement<Kind>({{5, Kind::add}, {3, Kind::remove}, {1, Kind::clear}});
        return rc::gen::apply(
            [](Kind k, std::string e) {
                return OrSetModel::Op{k, k == Kind::clear ? "" : e};
            },
            kind, rc::gen::element<std::string>("x", "y", "z"));
    }
};

template <>
struct Arbitrary<HashModel> {
    static HashModel make() { return {}; }
    static rc::Gen<HashModel::Op> op() {
        using Kind = HashModel::Op::Kind;
        auto kind = rc::gen::weightedElement<Kind>(
            {{5, Kind::set}, {4, Kind::increment}, {3, Kind::remove}, {1, Kind::clear}});
        // Values that are integers and values that are not; increments never 0 (an add of 0
        // leaves no trace in a counter: operations.cpp writes "0" instead) and now and then
        // near the int64 limits, where sums saturate or are refused.
        auto value = rc::gen::element<std::string>("1", "-5", "40", "x", "07");
        auto amount = rc::gen::weightedOneOf<std::int64_t>({
            {8, rc::gen::element<std::int64_t>(-3, -2, -1, 1, 2, 3)},
            {1, rc::gen::element<std::int64_t>(std::numeric_limits<std::int64_t>::max() - 1,
                                               std::numeric_limits<std::int64_t>::min() + 1)},
        });
        return rc::gen::apply(
            [](Kind k, std::string f, std::string v, std::int64_t a, std::uint64_t now) {
                return HashModel::Op{k, k == Kind::clear ? "" : std::move(f), std::move(v), a, now};
            },
            kind, rc::gen::element<std::string>("f", "g", "h"), value, amount,
            rc::gen::inRange<std::uint64_t>(0, 8));
    }
};

template <>
struct Arbitrary<BoundedCounterModel> {
    // Floors 0 and negative, the initial rights at any of the replicas.
    static BoundedCounterModel make() {
        BoundedCounterModel m;
        m.min = *rc::gen::weightedOneOf<std::int64_t>(
            {{1, rc::gen::just<std::int64_t>(0)}, {1, rc::gen::inRange<std::int64_t>(-30, 0)}});
        m.holder_index = *rc::gen::inRange<std::size_t>(0, replica_pool.size());
        return m;
    }
    static rc::Gen<BoundedCounterModel::Op> op() {
        using Kind = BoundedCounterModel::Op::Kind;
        auto kind = rc::gen::weightedElement<Kind>(
            {{3, Kind::increment}, {4, Kind::decrement}, {3, Kind::transfer}});
        // Mostly small, so that rights given away are soon spent elsewhere.
        auto amount = rc::gen::weightedOneOf<std::uint64_t>({
            {6, rc::gen::inRange<std::uint64_t>(0, 4)},
            {3, rc::gen::inRange<std::uint64_t>(4, 12)},
            {1, rc::gen::element<std::uint64_t>(100, 1000)},
        });
        // Spending everything it holds is common, and is when rights run out.
        auto all_rights = rc::gen::weightedElement<bool>({{2, false}, {1, true}});
        return rc::gen::apply(
            [](Kind k, std::uint64_t a, bool all, std::size_t to) {
                return BoundedCounterModel::Op{k, a, all, to};
            },
            kind, amount, all_rights, any_replica());
    }
};

template <class Model>
rc::Gen<std::vector<Step<typename Model::Op>>> history() {
    return rc::gen::container<std::vector<Step<typename Model::Op>>>(step(Arbitrary<Model>::op()));
}

// Inside a property: 2..5 replicas run a generated history.
template <class Model>
Simulation<Model> simulate() {
    auto ids = *replica_ids();
    Simulation<Model> sim(Arbitrary<Model>::make(), std::move(ids));
    sim.run(*history<Model>());
    return sim;
}

// ---------------------------------------------------------------- causality

// Every version vector seen while replicas of the pool write (raising their
// own entry, sometimes by a whole interval), accept relayed records (raising
// another's entry) and merge each other's vectors.
inline rc::Gen<std::vector<crdt::VersionVector>> version_vectors() {
    struct Move {
        int kind;
        std::size_t at, other;
        std::uint64_t length;
    };
    auto move = rc::gen::apply(
        [](int k, std::size_t a, std::size_t o, std::uint64_t l) {
            return Move{k, a, o, l};
        },
        rc::gen::inRange(0, 3), any_replica(), any_replica(),
        rc::gen::inRange<std::uint64_t>(1, 4));
    return rc::gen::map(
        rc::gen::container<std::vector<Move>>(move), [](const std::vector<Move>& moves) {
            std::vector<crdt::VersionVector> vvs(replica_pool.size());
            std::vector<crdt::VersionVector> seen{{}};
            for (const auto& m : moves) {
                auto& vv = vvs[m.at % vvs.size()];
                const crdt::ReplicaId other = replica_pool[m.other % replica_pool.size()];
                if (m.kind == 0)
                    vv.advance(replica_pool[m.at % vvs.size()],
                               vv.get(replica_pool[m.at % vvs.size()]) + m.length);
                if (m.kind == 1) vv.advance(other, vvs[m.other % vvs.size()].get(other));
                if (m.kind == 2) vv.merge(vvs[m.other % vvs.size()]);
                seen.push_back(vv);
            }
            return seen;
        });
}

// Every dot context seen while replicas make dots, receive single dots out of
// order (leaving gaps in the cloud) and join each other's contexts.
inline rc::Gen<std::vector<crdt::DotContext>> dot_contexts() {
    struct Move {
        int kind;
        std::size_t at, other;
        std::uint64_t seq;
    };
    auto move = rc::gen::apply(
        [](int k, std::size_t a, std::size_t o, std::uint64_t s) {
            return Move{k, a, o, s};
        },
        rc::gen::inRange(0, 3), any_replica(), any_replica(),
        rc::gen::inRange<std::uint64_t>(1, 10));
    return rc::gen::map(rc::gen::container<std::vector<Move>>(move),
                        [](const std::vector<Move>& moves) {
                            std::vector<crdt::DotContext> contexts(replica_pool.size());
                            std::vector<crdt::DotContext> seen{{}};
                            for (const auto& m : moves) {
                                auto& c = contexts[m.at % contexts.size()];
                                if (m.kind == 0) c.make_dot(replica_pool[m.at % contexts.size()]);
                                if (m.kind == 1) {
                                    c.insert({replica_pool[m.other % replica_pool.size()], m.seq});
                                    c.compact();
                                }
                                if (m.kind == 2) c.join(contexts[m.other % contexts.size()]);
                                seen.push_back(c);
                            }
                            return seen;
                        });
}

// Inside a property: one element of a non-empty vector.
template <class T>
const T& pick(const std::vector<T>& from) {
    return from[*rc::gen::inRange<std::size_t>(0, from.size())];
}

}  // namespace meridian::test
