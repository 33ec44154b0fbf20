// DotContext: the causal context of a dot-based CRDT, i.e. the set of dots it
// has seen, kept as a version vector (the contiguous prefix per replica) plus a
// cloud of dots beyond it. compact() moves cloud dots into the vector as soon
// as the gap before them closes.
#pragma once

#include <cstdint>
#include <set>

#include "crdt/version_vector.hpp"

namespace meridian::crdt {

class DotContext {
public:
    DotContext() = default;

    bool contains(const Dot& dot) const;
    // Creates the next dot of `replica` and records it as seen.
    Dot make_dot(ReplicaId replica);
    // Records `dot` as seen (in the cloud until compacted).
    void insert(const Dot& dot);
    void join(const DotContext& other);
    void compact();

    // Calls f(dot) for every dot seen, in order. Used to find what a remove
    // delta's context removes without scanning the whole set.
    template <class F>
    void for_each_dot(F&& f) const {
        for (const auto& e : prefix_.entries())
            for (std::uint64_t s = 1; s <= e.seq; ++s) f(Dot{e.replica, s});
        for (const auto& d : cloud_) f(d);
    }
    // How many dots for_each_dot() would visit.
    std::uint64_t dot_count() const { return prefix_.total() + cloud_.size(); }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const {
        return prefix_.heap_bytes() + cloud_.size() * tree_node_bytes(sizeof(Dot));
    }

    const VersionVector& prefix() const { return prefix_; }
    const std::set<Dot>& cloud() const { return cloud_; }

    friend bool operator==(const DotContext&, const DotContext&) = default;

    template <class Archive>
    friend void serialize(Archive& archive, DotContext& context);

private:
    VersionVector prefix_;
    std::set<Dot> cloud_;  // dots not covered by prefix_
};

}  // namespace meridian::crdt
