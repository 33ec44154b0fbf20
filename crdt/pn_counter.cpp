#include "crdt/pn_counter.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include "crdt/entry_table.hpp"

namespace meridian::crdt {

namespace {

using detail::Int128;
using detail::int64_max;
using detail::int64_min;

void merge_max(PnCounter::Entry& into, const PnCounter::Entry& from) {
    into.increments = std::max(into.increments, from.increments);
    into.decrements = std::max(into.decrements, from.decrements);
}

}  // namespace

std::span<const PnCounter::Entry> PnCounter::baselines() const {
    if (const Tail* tail = tail_.get()) return tail->baselines;
    return {};
}

std::size_t PnCounter::heap_bytes() const {
    const Tail* tail = tail_.get();
    if (!tail) return entries_.heap_bytes();
    return entries_.heap_bytes() + malloc_chunk_bytes(sizeof(Tail)) +
           heap_bytes_of(tail->baselines) + (tail->seal.get() ? malloc_chunk_bytes(sizeof(Seal)) : 0);
}

std::uint64_t PnCounter::sealed_epoch() const {
    const Seal* s = seal_in_force();
    return s ? s->epoch : 0;
}

Int128 PnCounter::added_since(const Seal& seal) const {
    const Entry* owner = detail::find_entry(entries_, seal.owner);
    if (!owner) return 0;
    // The seal's delta carries the owner's entry, so it is never below the seal's; a hostile
    // peer's state might be, and then the owner has added nothing since.
    const std::uint64_t up = owner->increments > seal.increments ? owner->increments - seal.increments : 0;
    const std::uint64_t down =
        owner->decrements > seal.decrements ? owner->decrements - seal.decrements : 0;
    return Int128(up) - Int128(down);
}

Expected<PnCounter, Error> PnCounter::add(ReplicaId replica, std::int64_t amount) {
    const Seal* sealed = seal_in_force();
    if (sealed && sealed->owner != replica) return unexpected(Error::invalid_argument);
    const Int128 next = exact_value() + amount;
    if (next < int64_min || next > int64_max) return unexpected(Error::overflow);

    const Entry* current = detail::find_entry(entries_, replica);
    Entry updated = current ? *current : Entry{replica, 0, 0};
    // The magnitude of INT64_MIN does not fit in int64, but does in uint64.
    const std::uint64_t magnitude =
        amount < 0 ? std::uint64_t{0} - static_cast<std::uint64_t>(amount)
                   : static_cast<std::uint64_t>(amount);
    std::uint64_t& total = amount < 0 ? updated.decrements : updated.increments;
    if (total > std::numeric_limits<std::uint64_t>::max() - magnitude)
        return unexpected(Error::overflow);
    total += magnitude;

    detail::entry_for(entries_, replica) = updated;
    PnCounter delta;
    delta.entries_.push_back(updated);
    if (sealed) delta.set_seal(*sealed);
    return delta;
}

PnCounter PnCounter::reset() {
    PnCounter delta;
    if (const Seal* sealed = seal_in_force()) {
        // A new generation of the seal, at 0: the owner's adds this replica has not seen
        // survive it, as unobserved adds survive a reset.
        Seal next = *sealed;
        ++next.generation;
        next.base = 0;
        next.existed = false;
        const Entry* owner = detail::find_entry(entries_, next.owner);
        next.increments = owner ? owner->increments : 0;
        next.decrements = owner ? owner->decrements : 0;
        if (owner) delta.entries_.push_back(*owner);
        delta.set_seal(next);
        set_seal(next);
        return delta;
    }
    // The delta carries the observed entries along with the baselines, so
    // whoever joins it never holds a baseline above the entry it came from.
    delta.entries_ = entries_;
    if (entries_.empty()) return delta;
    delta.tail_.emplace().baselines.assign(entries_.begin(), entries_.end());
    detail::join_entries(tail_.emplace().baselines, entries_, merge_max);
    return delta;
}

bool PnCounter::needs_seal(ReplicaId writer, std::uint64_t epoch) const {
    const Seal* sealed = seal_in_force();
    if (!sealed) return epoch > 0;
    return epoch > sealed->epoch || (epoch == sealed->epoch && writer != sealed->owner);
}

PnCounter PnCounter::seal(ReplicaId owner, std::uint64_t epoch) {
    assert(needs_seal(owner, epoch));
    const Seal* sealed = seal_in_force();
    const std::uint64_t generation = sealed && sealed->epoch == epoch ? sealed->generation + 1 : 1;
    const Entry* mine = detail::find_entry(entries_, owner);
    const Seal next{epoch,
                    generation,
                    owner,
                    value(),
                    has_contributions(),
                    mine ? mine->increments : 0,
                    mine ? mine->decrements : 0};
    PnCounter delta;
    if (mine) delta.entries_.push_back(*mine);
    delta.set_seal(next);
    set_seal(next);
    return delta;
}

bool PnCounter::join(const PnCounter& other, bool* sealed_out) {
    // The replicas whose entries `other` raises (one or two: a delta carries one replica's entry,
    // except a reset's).
    SmallVector<ReplicaId> raised;
    const bool sealed_before = seal_in_force() != nullptr;
    for (const Entry& e : other.entries_) {
        const Entry* mine = detail::find_entry(entries_, e.replica);
        if (!mine || e.increments > mine->increments || e.decrements > mine->decrements)
            raised.push_back(e.replica);
    }
    detail::join_entries(entries_, other.entries_, merge_max);
    bool raises = !raised.empty();
    if (const Tail* theirs = other.tail_.get()) {
        if (!theirs->baselines.empty())
            detail::join_entries(tail_.emplace().baselines, theirs->baselines, merge_max);
        if (const Seal* their_seal = theirs->seal.get()) {
            const Seal* mine = seal_in_force();
            if (!mine || *mine < *their_seal) {
                set_seal(*their_seal);
                raises = true;
            }
        }
    }
    if (const Seal* sealed = seal_in_force(); sealed && sealed_before && sealed_out)
        for (ReplicaId r : raised)
            if (r != sealed->owner) *sealed_out = true;
    return raises;
}

Int128 PnCounter::exact_value() const {
    if (const Seal* sealed = seal_in_force()) return Int128(sealed->base) + added_since(*sealed);
    Int128 sum = 0;
    for (const auto& e : entries_) sum += Int128(e.increments) - Int128(e.decrements);
    for (const auto& b : baselines()) sum -= Int128(b.increments) - Int128(b.decrements);
    return sum;
}

std::int64_t PnCounter::value() const {
    return detail::saturate(exact_value());
}

bool PnCounter::has_contributions() const {
    if (const Seal* sealed = seal_in_force()) {
        const Entry* owner = detail::find_entry(entries_, sealed->owner);
        return sealed->existed ||
               (owner && (owner->increments > sealed->increments ||
                          owner->decrements > sealed->decrements));
    }
    const auto bases = baselines();
    for (const auto& e : entries_) {
        const Entry* b = detail::find_entry(bases, e.replica);
        if (!b || b->increments != e.increments || b->decrements != e.decrements) return true;
    }
    return false;
}

}  // namespace meridian::crdt
