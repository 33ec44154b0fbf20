// Helpers for the sorted per-replica entry vectors that the counters keep
// (small: one entry per replica that ever wrote).
#pragma once

#include <algorithm>
#include <vector>

#include "crdt/ids.hpp"

namespace meridian::crdt::detail {

// The entry for `replica`, inserted (value-initialised) if missing.
template <class Entry>
Entry& entry_for(std::vector<Entry>& entries, ReplicaId replica) {
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
template <class Entry>
const Entry* find_entry(const std::vector<Entry>& entries, ReplicaId replica) {
    auto it = std::lower_bound(entries.begin(), entries.end(), replica,
                               [](const Entry& e, ReplicaId r) { return e.replica < r; });
    return it != entries.end() && it->replica == replica ? &*it : nullptr;
}

// Joins `from` into `into` with `merge(into_entry, from_entry)` for replicas
// present in both; both vectors are sorted by replica.
template <class Entry, class Merge>
void join_entries(std::vector<Entry>& into, const std::vector<Entry>& from, Merge merge) {
    for (const auto& e : from) merge(entry_for(into, e.replica), e);
}

}  // namespace meridian::crdt::detail
