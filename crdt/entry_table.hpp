// Helpers for the sorted per-replica entry sequences that the counters keep
// (small: one entry per replica that ever wrote; std::vector or SmallVector).
#pragma once

#include <algorithm>
#include <vector>

#include "crdt/ids.hpp"

namespace meridian::crdt::detail {

// The entry for `replica`, inserted (value-initialised) if missing.
template <class Entries, class Entry = typename Entries::value_type>
Entry& entry_for(Entries& entries, ReplicaId replica) {
    auto it = std::lower_bound(entries.begin(), entries.end(), replica,
                               [](const Entry& e, ReplicaId r) { return e.replica < r; });
    if (it == entries.end() || it->replica != replica) {
        Entry fresh{};
        fresh.replica = replica;
        it = entries.insert(it, fresh);
    }
    return *it;
}

// The entry for `replica`, or nullptr.
template <class Entries, class Entry = typename Entries::value_type>
const Entry* find_entry(const Entries& entries, ReplicaId replica) {
    auto it = std::lower_bound(entries.begin(), entries.end(), replica,
                               [](const Entry& e, ReplicaId r) { return e.replica < r; });
    return it != entries.end() && it->replica == replica ? &*it : nullptr;
}

// Joins `from` into `into` with `merge(into_entry, from_entry)` for replicas
// present in both; both sequences are sorted by replica.
template <class Into, class From, class Merge>
void join_entries(Into& into, const From& from, Merge merge) {
    for (const auto& e : from) merge(entry_for(into, e.replica), e);
}

}  // namespace meridian::crdt::detail
