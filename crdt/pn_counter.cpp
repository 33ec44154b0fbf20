#include "crdt/pn_counter.hpp"

#include <algorithm>
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

Expected<PnCounter, Error> PnCounter::add(ReplicaId replica, std::int64_t amount) {
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
    return delta;
}

PnCounter PnCounter::reset() {
    // The delta carries the observed entries along with the baselines, so
    // whoever joins it never holds a baseline above the entry it came from.
    PnCounter delta;
    delta.entries_ = entries_;
    delta.baselines_.assign(entries_.begin(), entries_.end());
    detail::join_entries(baselines_, entries_, merge_max);
    return delta;
}

bool PnCounter::join(const PnCounter& other) {
    const bool raises =
        std::any_of(other.entries_.begin(), other.entries_.end(), [&](const Entry& e) {
            const Entry* mine = detail::find_entry(entries_, e.replica);
            return !mine || e.increments > mine->increments || e.decrements > mine->decrements;
        });
    detail::join_entries(entries_, other.entries_, merge_max);
    detail::join_entries(baselines_, other.baselines_, merge_max);
    return raises;
}

Int128 PnCounter::exact_value() const {
    Int128 sum = 0;
    for (const auto& e : entries_) sum += Int128(e.increments) - Int128(e.decrements);
    for (const auto& b : baselines_) sum -= Int128(b.increments) - Int128(b.decrements);
    return sum;
}

std::int64_t PnCounter::value() const {
    return detail::saturate(exact_value());
}

bool PnCounter::has_contributions() const {
    for (const auto& e : entries_) {
        const Entry* b = detail::find_entry(baselines_, e.replica);
        if (!b || b->increments != e.increments || b->decrements != e.decrements) return true;
    }
    return false;
}

}  // namespace meridian::crdt
