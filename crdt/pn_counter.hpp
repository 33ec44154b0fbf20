// PnCounter: a counter that every replica increments and decrements
// concurrently; its value is the sum of all of them. Each replica owns one
// entry (its total increments and total decrements), so the delta of a
// mutation is that entry, never "+n": joining it twice changes nothing.
//
// reset() is the convergent meaning of DEL: it undoes every increment and
// decrement the resetting replica has observed, by raising a per-replica
// baseline to what it saw. Increments concurrent with the reset survive it,
// and two concurrent resets remove what they observed once, not twice.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "crdt/error.hpp"
#include "crdt/expected.hpp"
#include "crdt/heap_bytes.hpp"
#include "crdt/ids.hpp"
#include "crdt/small_vector.hpp"
#include "crdt/wide_int.hpp"

namespace meridian::crdt {

class PnCounter {
public:
    struct Entry {
        ReplicaId replica;
        std::uint64_t increments = 0;
        std::uint64_t decrements = 0;
        friend bool operator==(const Entry&, const Entry&) = default;
    };

    PnCounter() = default;

    // Adds `amount` (negative to subtract) as `replica`. Refuses with
    // Error::overflow when the value would leave the int64 range, as far as
    // this replica can see, or when the replica's own totals would wrap.
    Expected<PnCounter, Error> add(ReplicaId replica, std::int64_t amount);

    // Observed reset (DEL): the value becomes 0 here; see the file comment.
    PnCounter reset();

    // Joins `other` in. Returns whether it raised an entry (of any replica): whether it held
    // increments or decrements this counter had not seen.
    bool join(const PnCounter& other);

    // The sum of every increment minus every decrement since the last
    // observed reset. Concurrent increments from several replicas could in
    // principle exceed the int64 range; the value then saturates at the limit
    // instead of wrapping.
    std::int64_t value() const;
    // The same sum, unsaturated.
    detail::Int128 exact_value() const;
    // True when some increment or decrement has not been reset: the key exists.
    bool has_contributions() const;

    std::span<const Entry> entries() const { return entries_; }
    std::span<const Entry> baselines() const { return baselines_; }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const { return entries_.heap_bytes() + heap_bytes_of(baselines_); }

    friend bool operator==(const PnCounter&, const PnCounter&) = default;

    template <class Archive>
    friend void serialize(Archive& archive, PnCounter& counter);

private:
    SmallVector<Entry> entries_;    // sorted by replica; one region's inline
    std::vector<Entry> baselines_;  // sorted by replica; what resets observed
};

}  // namespace meridian::crdt
