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
// Handover: when a replica is retired for good (its region failed over to another,
// node/home_owners.hpp), its heir writes a Handover: the retired replica's entry and
// its transfers out, frozen as the heir sees them. From then on every view counts the
// retired replica by its frozen part alone, whatever more of its writes arrive (they
// are undone), and the rights it held belong to the heir. One heir per retired replica
// is the caller's to guarantee (a failover commit decides it); two handovers of one
// replica join to the greater, so that join stays a semilattice whatever arrives.
//
// Freezing is safe only if no view ever counted more of the retired replica than the
// heir froze. Its own decrements and increments in a view only change the value, so
// undoing them keeps the floor. Transfers out of it are different: a receiver may
// have spent them. So (the node layer's part) the heir hands over only once it holds
// every write of the retired replica that any surviving region held when it learned of
// the retirement, and from then on those regions spend no rights that came from a
// replica retiring without a handover in this key (`retiring`, passed to decrement,
// transfer and rights).
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

#include "crdt/box.hpp"
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
        friend auto operator<=>(const Transfer&, const Transfer&) = default;
    };

    // A retired replica's part, frozen by its heir (see above).
    struct Handover {
        ReplicaId retired;
        ReplicaId heir;
        std::uint64_t increments = 0;  // the retired replica's entry, frozen
        std::uint64_t decrements = 0;
        std::vector<Transfer> transfers;  // from `retired`, frozen; sorted by `to`
        // The total order two handovers of one replica join by (the greater wins).
        friend auto operator<=>(const Handover&, const Handover&) = default;
    };

    // Replicas that are retiring: transfers from them count towards their receiver's
    // rights only in keys where their handover arrived.
    using Retiring = std::span<const ReplicaId>;

    BoundedCounter() = default;

    // Increments by `amount`, creating as many rights at `replica`.
    // A replica handed over writes nothing more: Error::retired.
    Expected<BoundedCounter, Error> increment(ReplicaId replica, std::uint64_t amount);
    // Decrements by `amount` if `replica` holds that many rights; otherwise
    // refuses with Error::insufficient_rights and changes nothing. The delta
    // is the whole state (see above).
    Expected<BoundedCounter, Error> decrement(ReplicaId replica, std::uint64_t amount,
                                              const Floor& floor, Retiring retiring = {});
    // Moves `amount` of the rights `from` holds to `to`; the delta is the
    // whole state (see above). Neither may be handed over (Error::retired).
    Expected<BoundedCounter, Error> transfer(ReplicaId from, ReplicaId to, std::uint64_t amount,
                                             const Floor& floor, Retiring retiring = {});
    // Freezes `retired`'s part as this replica sees it and gives its rights to `heir`.
    // The delta is the whole state, so that whoever joins it also holds what justified
    // the frozen decrements and transfers. Handing over a replica already handed over
    // to `heir` changes nothing; to another heir, or to a heir handed over itself, it
    // is refused (Error::retired), as is handing a replica to itself
    // (Error::invalid_argument).
    Expected<BoundedCounter, Error> hand_over(ReplicaId retired, ReplicaId heir);

    void join(const BoundedCounter& other);

    // Increments minus decrements (saturating at the int64 limits), each handed-over
    // replica counted by its frozen part.
    std::int64_t value() const;
    // The rights `replica` holds as far as this replica can see: with those of the
    // replicas handed over to it, and none once it is handed over itself.
    std::int64_t rights(ReplicaId replica, const Floor& floor, Retiring retiring = {}) const;
    // True once anything was written: the key exists.
    bool written() const {
        return !entries_.empty() || !transfers_.empty() || handovers_.get() != nullptr;
    }

    // As written, before handovers freeze anything.
    std::span<const Entry> entries() const { return entries_; }
    std::span<const Transfer> transfers() const { return transfers_; }
    const std::vector<Handover>& handovers() const;  // sorted by retired
    const Handover* handover(ReplicaId retired) const;
    // For decoding (crdt/serialization.hpp), which checks the handovers are well formed.
    void set_handovers(std::vector<Handover> handovers);
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const;

    friend bool operator==(const BoundedCounter&, const BoundedCounter&) = default;

    template <class Archive>
    friend void serialize(Archive& archive, BoundedCounter& counter);

private:
    // The rights `replica` holds itself (its part frozen if it is handed over), without what
    // it inherits.
    detail::Int128 own_rights(ReplicaId replica, const Floor& floor, Retiring retiring) const;
    // own_rights plus what the replicas handed over to it held, through chains of
    // heirs at most `depth` long (a decoded cycle must not recurse for ever).
    detail::Int128 inherited_rights(ReplicaId replica, const Floor& floor, Retiring retiring,
                                    std::size_t depth) const;
    detail::Int128 exact_rights(ReplicaId replica, const Floor& floor, Retiring retiring) const;
    // Calls f(transfer) for every transfer that counts: as frozen by the handover of its
    // `from`, if there is one.
    template <class F>
    void for_each_transfer(F&& f) const;
    Transfer& transfer_entry(ReplicaId from, ReplicaId to);
    std::vector<Handover>& handover_list();  // boxed on first use

    std::vector<Entry> entries_;       // sorted by replica
    std::vector<Transfer> transfers_;  // sorted by (from, to)
    // Sorted by retired; boxed, since few counters ever have one and a key's Value must not
    // grow (crdt/value.cpp). Never holds an empty list.
    OptionalBox<std::vector<Handover>> handovers_;
};

}  // namespace meridian::crdt
