// A deterministic in-memory "network" of replicas of one CRDT, driven by a
// generated history: replicas mutate, receive any delta made so far (in any
// order: delivery is deliberately not causal) and pull full states from each
// other. A Model (tests/crdt/models.hpp) applies operations and says what each
// delta carries in terms of a simple reference model, checked after every
// change. Test code only, single-threaded.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <random>
#include <span>
#include <utility>
#include <vector>

#include "crdt/ids.hpp"

namespace meridian::test {

// One step of a history. Indices are reduced modulo the replica count (or the
// number of deltas made so far) when the step runs, so any history is valid
// and RapidCheck can shrink it freely.
template <class Op>
struct Step {
    enum class Kind : std::uint8_t { mutate, deliver, sync };
    Kind kind = Kind::mutate;
    std::size_t replica = 0;  // mutate: the acting replica; deliver, sync: the receiver
    std::size_t source = 0;   // deliver: which delta, 0 the newest; sync: whose full state
    Op op{};
};

template <class Op>
std::ostream& operator<<(std::ostream& os, const Step<Op>& s) {
    switch (s.kind) {
        case Step<Op>::Kind::mutate:
            return os << "r" << s.replica << " does " << s.op;
        case Step<Op>::Kind::deliver:
            if (s.source == 0) return os << "r" << s.replica << " gets the newest delta";
            return os << "r" << s.replica << " gets the delta " << s.source << " before the newest";
        case Step<Op>::Kind::sync:
            return os << "r" << s.replica << " pulls r" << s.source;
    }
    return os;
}

// A CRDT state together with what the reference model says it carries.
template <class Model>
struct Tagged {
    typename Model::State state{};
    typename Model::Knowledge knowledge{};

    void join(const Tagged& other) {
        state.join(other.state);
        knowledge.join(other.knowledge);
    }
};

template <class Model>
struct Replica {
    std::size_t index = 0;
    crdt::ReplicaId id;
    Tagged<Model> view;
    typename Model::Local local{};
};

template <class Model>
struct Delta {
    std::size_t origin = 0;  // index of the replica whose mutator returned it
    Tagged<Model> content;
};

// What every replica receives when a run ends: each origin's deltas cut into
// intervals at random points and joined (as a log batch would ship them), all
// intervals shuffled across origins, and some intervals and single deltas
// delivered a second time.
template <class Model>
std::vector<Tagged<Model>> delivery_plan(const std::vector<Delta<Model>>& deltas,
                                         std::size_t replica_count, std::mt19937_64& rng) {
    std::vector<Tagged<Model>> plan;
    std::bernoulli_distribution cut(0.4), again(0.2);
    for (std::size_t origin = 0; origin < replica_count; ++origin) {
        std::optional<Tagged<Model>> interval;
        for (const auto& d : deltas) {
            if (d.origin != origin) continue;
            if (interval && cut(rng)) plan.push_back(*std::exchange(interval, std::nullopt));
            if (!interval) interval.emplace();
            interval->join(d.content);
            if (again(rng)) plan.push_back(d.content);
        }
        if (interval) plan.push_back(*interval);
    }
    const std::size_t distinct = plan.size();
    for (std::size_t i = 0; i < distinct; ++i)
        if (again(rng)) plan.push_back(plan[i]);
    std::shuffle(plan.begin(), plan.end(), rng);
    return plan;
}

template <class Model>
class Simulation {
public:
    using Op = typename Model::Op;

    Simulation(Model model, std::vector<crdt::ReplicaId> ids)
        : model_(std::move(model)), ids_(std::move(ids)) {
        for (std::size_t i = 0; i < ids_.size(); ++i) replicas_.push_back({i, ids_[i], {}, {}});
        if constexpr (requires { model_.start(std::span<const crdt::ReplicaId>(ids_)); })
            model_.start(std::span<const crdt::ReplicaId>(ids_));
    }

    void run(const std::vector<Step<Op>>& steps) {
        for (const auto& s : steps) apply(s);
    }

    void apply(const Step<Op>& s) {
        Replica<Model>& r = replicas_[s.replica % replicas_.size()];
        switch (s.kind) {
            case Step<Op>::Kind::mutate:
                if (auto delta = mutate(r, s.op)) deltas_.push_back({r.index, std::move(*delta)});
                break;
            case Step<Op>::Kind::deliver:
                if (!deltas_.empty())
                    receive(r, deltas_[deltas_.size() - 1 - s.source % deltas_.size()].content);
                break;
            case Step<Op>::Kind::sync:
                receive(r, Tagged<Model>(replicas_[s.source % replicas_.size()].view));
                break;
        }
    }

    // Applies `op` at `r` (which may be a copy outside the simulation); the
    // delta, or nothing when the mutator refused.
    std::optional<Tagged<Model>> mutate(Replica<Model>& r, const Op& op) {
        auto delta = model_.mutate(r, std::span<const crdt::ReplicaId>(ids_), op);
        check(r);
        if (delta) {
            // The most out-of-order view there is: a replica that holds
            // nothing but this delta.
            Replica<Model> fresh{r.index, r.id, {}, {}};
            receive(fresh, *delta);
        }
        return delta;
    }

    void receive(Replica<Model>& r, const Tagged<Model>& delta) {
        r.view.join(delta);
        if constexpr (requires { model_.received(r, delta); }) model_.received(r, delta);
        check(r);
    }

    // Every replica receives every delta (see delivery_plan); afterwards the
    // model's end-of-run checks hold at each.
    void deliver_everything(std::uint64_t seed) {
        std::mt19937_64 rng(seed);
        for (auto& r : replicas_)
            for (const auto& d : delivery_plan(deltas_, replicas_.size(), rng)) receive(r, d);
        if constexpr (requires { model_.check_converged(replicas_.front()); })
            for (const auto& r : replicas_) model_.check_converged(r);
    }

    // The join of every delta, in the order they were made.
    Tagged<Model> join_of_all_deltas() const {
        Tagged<Model> all;
        for (const auto& d : deltas_) all.join(d.content);
        return all;
    }

    // Every state the run produced: replica states, deltas, and bottom.
    std::vector<typename Model::State> states() const {
        std::vector<typename Model::State> out{typename Model::State{}};
        for (const auto& r : replicas_) out.push_back(r.view.state);
        for (const auto& d : deltas_) out.push_back(d.content.state);
        return out;
    }

    std::span<const Replica<Model>> replicas() const { return replicas_; }
    std::span<const Delta<Model>> deltas() const { return deltas_; }
    std::span<const crdt::ReplicaId> ids() const { return ids_; }

private:
    void check(const Replica<Model>& r) const {
        model_.check(r, std::span<const crdt::ReplicaId>(ids_));
    }

    Model model_;
    std::vector<crdt::ReplicaId> ids_;
    std::vector<Replica<Model>> replicas_;
    std::vector<Delta<Model>> deltas_;
};

}  // namespace meridian::test
