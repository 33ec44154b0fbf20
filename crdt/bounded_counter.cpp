#include "crdt/bounded_counter.hpp"

#include <algorithm>
#include <limits>

#include "crdt/entry_table.hpp"

namespace meridian::crdt {

namespace {

using detail::Int128;
using detail::int64_max;
using detail::saturate;

constexpr std::uint64_t uint64_max = std::numeric_limits<std::uint64_t>::max();

Int128 sum_value(std::span<const BoundedCounter::Entry> entries) {
    Int128 sum = 0;
    for (const auto& e : entries) sum += Int128(e.increments) - Int128(e.decrements);
    return sum;
}

}  // namespace

Expected<BoundedCounter, Error> BoundedCounter::increment(ReplicaId replica, std::uint64_t amount) {
    if (sum_value(entries_) + amount > int64_max) return unexpected(Error::overflow);
    const Entry* current = detail::find_entry(entries_, replica);
    Entry updated = current ? *current : Entry{replica, 0, 0};
    if (updated.increments > uint64_max - amount) return unexpected(Error::overflow);
    updated.increments += amount;
    detail::entry_for(entries_, replica) = updated;
    // Only the increments: the entry's decrements may have spent rights that
    // came by transfer, and this delta does not carry the transfers.
    BoundedCounter delta;
    delta.entries_.push_back(Entry{replica, updated.increments, 0});
    return delta;
}

Expected<BoundedCounter, Error> BoundedCounter::decrement(ReplicaId replica, std::uint64_t amount,
                                                          const Floor& floor) {
    if (exact_rights(replica, floor) < amount) return unexpected(Error::insufficient_rights);
    const Entry* current = detail::find_entry(entries_, replica);
    Entry updated = current ? *current : Entry{replica, 0, 0};
    if (updated.decrements > uint64_max - amount) return unexpected(Error::overflow);
    updated.decrements += amount;
    detail::entry_for(entries_, replica) = updated;
    return *this;
}

Expected<BoundedCounter, Error> BoundedCounter::transfer(ReplicaId from, ReplicaId to,
                                                         std::uint64_t amount, const Floor& floor) {
    if (from == to) return unexpected(Error::invalid_argument);
    if (exact_rights(from, floor) < amount) return unexpected(Error::insufficient_rights);
    // Rights never exceed the int64 range, but the running total of transfers
    // between two replicas could in principle wrap: check before touching state.
    for (const auto& existing : transfers_)
        if (existing.from == from && existing.to == to && existing.amount > uint64_max - amount)
            return unexpected(Error::overflow);
    transfer_entry(from, to).amount += amount;
    return *this;
}

void BoundedCounter::join(const BoundedCounter& other) {
    detail::join_entries(entries_, other.entries_, [](Entry& into, const Entry& from) {
        into.increments = std::max(into.increments, from.increments);
        into.decrements = std::max(into.decrements, from.decrements);
    });
    for (const auto& t : other.transfers_) {
        Transfer& mine = transfer_entry(t.from, t.to);
        mine.amount = std::max(mine.amount, t.amount);
    }
}

std::int64_t BoundedCounter::value() const { return saturate(sum_value(entries_)); }

std::int64_t BoundedCounter::rights(ReplicaId replica, const Floor& floor) const {
    return saturate(exact_rights(replica, floor));
}

Int128 BoundedCounter::exact_rights(ReplicaId replica, const Floor& floor) const {
    Int128 rights = replica == floor.holder ? -Int128(floor.min) : 0;
    if (const Entry* e = detail::find_entry(entries_, replica))
        rights += Int128(e->increments) - Int128(e->decrements);
    for (const auto& t : transfers_) {
        if (t.to == replica) rights += t.amount;
        if (t.from == replica) rights -= t.amount;
    }
    return rights;
}

BoundedCounter::Transfer& BoundedCounter::transfer_entry(ReplicaId from, ReplicaId to) {
    auto key = [](const Transfer& t) { return std::pair(t.from, t.to); };
    auto it = std::lower_bound(transfers_.begin(), transfers_.end(), std::pair(from, to),
                               [&](const Transfer& t, const auto& k) { return key(t) < k; });
    if (it == transfers_.end() || key(*it) != std::pair(from, to))
        it = transfers_.insert(it, Transfer{from, to, 0});
    return *it;
}

}  // namespace meridian::crdt
