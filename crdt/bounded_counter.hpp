// BoundedCounter: a counter whose value never falls below a floor, without
// coordination on the fast path (Balegas et al., "Putting consistency back
// into eventual consistency", EuroSys 2015).
//
// The value minus the floor is split into rights held by replicas. A replica
// may decrement only within the rights it holds, may transfer rights to
// another replica, and gains rights by incrementing. Every entry has a single
// writer (increments and decrements per replica, transfers per (from, to)
// pair) and only grows, so join is a pointwise maximum and no interleaving of
// deltas can take the value below the floor: each replica only ever spends
// rights it can see it holds, and what it cannot see yet only adds rights.
//
// The delta of a decrement or a transfer is the replica's whole state (a few
// entries per replica), not only the entry it changed: that way whoever
// joins it also holds the increments and transfers that justified the
// spending, and no replica's view can fall below the floor even when deltas
// arrive out of causal order (a decrement seen before the transfer that
// allowed it). An increment needs no justification, so its delta is the
// replica's increments total alone: not the decrements beside it in the
// entry, which would arrive without what justified them.
//
// Floor: a new counter is 0. For a floor below 0 (an overdraft), the initial
// rights -min belong to one designated replica (`holder`), which every
// replica must agree on; the node layer uses the lowest region of the cluster
// in epoch 0. A floor above 0 is not supported: a new counter would start
// below it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "crdt/error.hpp"
#include "crdt/expected.hpp"
#include "crdt/heap_bytes.hpp"
#include "crdt/ids.hpp"
#include "crdt/wide_int.hpp"

namespace meridian::crdt {

class BoundedCounter {
public:
    struct Floor {
        std::int64_t min = 0;  // must be <= 0
        ReplicaId holder;      // holds the initial rights -min
    };

    struct Entry {
        ReplicaId replica;
        std::uint64_t increments = 0;  // also the rights the replica created
        std::uint64_t decrements = 0;  // also the rights the replica spent
        friend bool operator==(const Entry&, const Entry&) = default;
    };

    struct Transfer {
        ReplicaId from;
        ReplicaId to;
        std::uint64_t amount = 0;  // total ever transferred from -> to
        friend bool operator==(const Transfer&, const Transfer&) = default;
    };

    BoundedCounter() = default;

    // Increments by `amount`, creating as many rights at `replica`.
    Expected<BoundedCounter, Error> increment(ReplicaId replica, std::uint64_t amount);
    // Decrements by `amount` if `replica` holds that many rights; otherwise
    // refuses with Error::insufficient_rights and changes nothing. The delta
    // is the whole state (see above).
    Expected<BoundedCounter, Error> decrement(ReplicaId replica, std::uint64_t amount,
                                              const Floor& floor);
    // Moves `amount` of the rights `from` holds to `to`; the delta is the
    // whole state (see above).
    Expected<BoundedCounter, Error> transfer(ReplicaId from, ReplicaId to, std::uint64_t amount,
                                             const Floor& floor);

    void join(const BoundedCounter& other);

    // Increments minus decrements (saturating at the int64 limits).
    std::int64_t value() const;
    // The rights `replica` holds as far as this replica can see.
    std::int64_t rights(ReplicaId replica, const Floor& floor) const;
    // True once anything was written: the key exists.
    bool written() const { return !entries_.empty() || !transfers_.empty(); }

    std::span<const Entry> entries() const { return entries_; }
    std::span<const Transfer> transfers() const { return transfers_; }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const { return heap_bytes_of(entries_) + heap_bytes_of(transfers_); }

    friend bool operator==(const BoundedCounter&, const BoundedCounter&) = default;

    template <class Archive>
    friend void serialize(Archive& archive, BoundedCounter& counter);

private:
    detail::Int128 exact_rights(ReplicaId replica, const Floor& floor) const;
    Transfer& transfer_entry(ReplicaId from, ReplicaId to);

    std::vector<Entry> entries_;       // sorted by replica
    std::vector<Transfer> transfers_;  // sorted by (from, to)
};

}  // namespace meridian::crdt
