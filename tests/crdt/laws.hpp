// The properties every delta-state CRDT must have, written once and run for
// each type from its test file: join is a semilattice join, a mutator's delta
// joined into the old state gives the new one, and replicas that receive the
// same deltas in any order (duplicated, batched into intervals) converge.
// The reference model (models.hpp) is checked at every step of every run.
#pragma once

#include <rapidcheck.h>

#include <cstddef>
#include <cstdint>

#include "crdt/version_vector.hpp"
#include "generators.hpp"
#include "property.hpp"
#include "show.hpp"

namespace meridian::test {

// a joined with b, without touching either.
template <class State>
State joined(State a, const State& b) {
    a.join(b);
    return a;
}

inline crdt::VersionVector joined(crdt::VersionVector a, const crdt::VersionVector& b) {
    a.merge(b);
    return a;
}

// Inside a property: the semilattice laws on three states and bottom.
template <class State>
void require_join_laws(const State& a, const State& b, const State& c) {
    RC_ASSERT(joined(a, b) == joined(b, a));
    RC_ASSERT(joined(joined(a, b), c) == joined(a, joined(b, c)));
    RC_ASSERT(joined(a, a) == a);
    RC_ASSERT(joined(a, State{}) == a);
    RC_ASSERT(joined(State{}, a) == a);
}

template <class Model>
void check_join_laws() {
    check_property([] {
        const auto sim = simulate<Model>();
        const auto states = sim.states();
        require_join_laws(pick(states), pick(states), pick(states));
    });
}

template <class Model>
void check_delta_mutators() {
    check_property([] {
        auto sim = simulate<Model>();
        const auto& x = sim.replicas()[*rc::gen::inRange<std::size_t>(0, sim.replicas().size())];
        Replica<Model> y = x;
        const auto delta = sim.mutate(y, *Arbitrary<Model>::op());
        if (delta) {
            RC_ASSERT(joined(x.view.state, delta->state) == y.view.state);
        } else {
            RC_ASSERT(x.view.state == y.view.state);  // a refused mutation changes nothing
        }
    });
}

// The model's checks run at every receive, and its end-of-run checks once
// everything has arrived; then every replica holds exactly the join of all
// deltas.
template <class Model>
void check_convergence() {
    check_property([] {
        auto sim = simulate<Model>();
        sim.deliver_everything(*rc::gen::arbitrary<std::uint64_t>());
        const auto all = sim.join_of_all_deltas();
        for (const auto& r : sim.replicas()) RC_ASSERT(r.view.state == all.state);
    });
}

}  // namespace meridian::test
