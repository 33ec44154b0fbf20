// PnCounter: a counter that every replica increments and decrements
// concurrently; its value is the sum of all of them. Each replica owns one
// entry (its total increments and total decrements), so the delta of a
// mutation is that entry, never "+n": joining it twice changes nothing.
//
// reset() is the convergent meaning of DEL: it undoes every increment and
// decrement the resetting replica has observed, by raising a per-replica
// baseline to what it saw. Increments concurrent with the reset survive it,
// and two concurrent resets remove what they observed once, not twice.
//
// Seal: a home-routed counter with a floor is written by one region at a time, the owner of its
// home (node/home_owners.hpp), which checks the floor against everything it sees. When a
// failover moves the home, the old owner may have applied writes in its last lease that no
// other region received (it was cut off, or dying); its log keeps them, and they would arrive
// when it returns. Joined, they would take the value below the floor that the new owner checked
// its own writes against. So the new owner seals the counter with its first write: from then on
// the value is what the new owner saw when it sealed (`base`) plus what it adds to its own entry
// after that. Every other replica's entry stops counting, whatever arrives later. The seal of
// the highest (epoch, generation) wins; a reset under a seal is a new generation with base 0,
// and so is the owner's region writing again under a new replica id (after an unclean
// restart). An epoch has one owner, so two seals never compete in practice; their total order
// still makes any join converge.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "crdt/box.hpp"
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

    struct Seal {
        std::uint64_t epoch = 0;  // the home's fencing epoch the owner writes in (> 0)
        // 1 when sealed; + 1 per reset, and per new replica id of the owner's region.
        std::uint64_t generation = 0;
        ReplicaId owner;
        std::int64_t base = 0;         // the value the sealing replica saw
        bool existed = false;          // whether the counter existed for it
        std::uint64_t increments = 0;  // the owner's entry then: only what it adds later counts
        std::uint64_t decrements = 0;
        friend auto operator<=>(const Seal&, const Seal&) = default;
    };

    PnCounter() = default;

    // Adds `amount` (negative to subtract) as `replica`. Refuses with
    // Error::overflow when the value would leave the int64 range, as far as
    // this replica can see, or when the replica's own totals would wrap; and
    // with Error::invalid_argument when the counter is sealed for another owner.
    // Under a seal the delta carries the seal too, so whoever holds the add
    // holds the seal it counts under.
    Expected<PnCounter, Error> add(ReplicaId replica, std::int64_t amount);

    // Observed reset (DEL): the value becomes 0 here; see the file comment.
    PnCounter reset();

    // Seals the counter for `owner` at home epoch `epoch`: the value stays what it is here, and
    // from now on only `owner`'s adds change it (see the file comment). `epoch` must be above
    // sealed_epoch(), or equal to it for another owner: the same region under a new replica id
    // after an unclean restart (a new generation). Returns the delta: the seal and the owner's
    // entry.
    PnCounter seal(ReplicaId owner, std::uint64_t epoch);
    // Whether `writer`, owning the counter's home at `epoch`, must seal before it writes.
    bool needs_seal(ReplicaId writer, std::uint64_t epoch) const;
    // The epoch of the seal in force; 0 when the counter was never sealed.
    std::uint64_t sealed_epoch() const;
    const Seal* seal_in_force() const { return tail_.get() ? tail_.get()->seal.get() : nullptr; }

    // Joins `other` in. Returns whether it raised an entry (of any replica): whether it held
    // increments or decrements this counter had not seen. `sealed_out`, if given, is set when
    // the counter was sealed already and one of those entries is of another replica than the
    // seal's owner: writes that do not count (an old owner's that the sealing owner had not
    // seen, undone by its seal; at another region, possibly ones the seal's base holds).
    bool join(const PnCounter& other, bool* sealed_out = nullptr);

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
    std::span<const Entry> baselines() const;
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const;

    friend bool operator==(const PnCounter&, const PnCounter&) = default;

    template <class Archive>
    friend void save(Archive& archive, const PnCounter& counter);
    template <class Archive>
    friend void load(Archive& archive, PnCounter& counter);
    friend class Value;  // encodes the seal after the counter (crdt/serialization.hpp)

private:
    // What most counters never have, behind one pointer so that a counter stays narrower than
    // a register (a key's Value is as wide as its widest state).
    struct Tail {
        std::vector<Entry> baselines;  // sorted by replica; what resets observed
        OptionalBox<Seal> seal;
        friend bool operator==(const Tail&, const Tail&) = default;
    };

    void set_seal(const Seal& seal) { tail_.emplace().seal.emplace() = seal; }
    // What the seal counts of its owner's entry: what the owner added since sealing.
    detail::Int128 added_since(const Seal& seal) const;

    SmallVector<Entry> entries_;  // sorted by replica; one region's inline
    OptionalBox<Tail> tail_;
};

}  // namespace meridian::crdt
