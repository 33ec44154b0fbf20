#include "crdt/version_vector.hpp"

#include <algorithm>

namespace meridian::crdt {

namespace {

template <class Entries>
auto lower_entry(Entries& entries, ReplicaId replica) {
    return std::lower_bound(entries.begin(), entries.end(), replica,
                            [](const auto& e, ReplicaId r) { return e.replica < r; });
}

}  // namespace

std::uint64_t VersionVector::get(ReplicaId replica) const {
    auto it = lower_entry(entries_, replica);
    return it != entries_.end() && it->replica == replica ? it->seq : 0;
}

void VersionVector::advance(ReplicaId replica, std::uint64_t seq) {
    if (seq == 0) return;
    auto it = lower_entry(entries_, replica);
    if (it != entries_.end() && it->replica == replica) {
        it->seq = std::max(it->seq, seq);
    } else {
        entries_.insert(it, Entry{replica, seq});
    }
}

void VersionVector::merge(const VersionVector& other) {
    // Joining deltas merges small vectors very often: raise entries in place when `other` names
    // no replica we lack, and only build a new vector when it does.
    const bool in_place =
        std::all_of(other.entries_.begin(), other.entries_.end(), [&](const Entry& e) {
            auto it = lower_entry(entries_, e.replica);
            return it != entries_.end() && it->replica == e.replica;
        });
    if (in_place) {
        for (const Entry& e : other.entries_) {
            auto it = lower_entry(entries_, e.replica);
            it->seq = std::max(it->seq, e.seq);
        }
        return;
    }
    std::vector<Entry> merged;
    merged.reserve(entries_.size() + other.entries_.size());
    auto a = entries_.begin();
    auto b = other.entries_.begin();
    while (a != entries_.end() || b != other.entries_.end()) {
        if (b == other.entries_.end() || (a != entries_.end() && a->replica < b->replica)) {
            merged.push_back(*a++);
        } else if (a == entries_.end() || b->replica < a->replica) {
            merged.push_back(*b++);
        } else {
            merged.push_back(Entry{a->replica, std::max(a->seq, b->seq)});
            ++a, ++b;
        }
    }
    entries_ = std::move(merged);
}

void VersionVector::meet(const VersionVector& other) {
    std::vector<Entry> met;
    for (const auto& e : entries_) {
        auto seq = std::min(e.seq, other.get(e.replica));
        if (seq != 0) met.push_back(Entry{e.replica, seq});
    }
    entries_ = std::move(met);
}

Causality VersionVector::compare(const VersionVector& other) const {
    bool ahead = false;   // some entry of ours is greater
    bool behind = false;  // some entry of theirs is greater
    auto a = entries_.begin();
    auto b = other.entries_.begin();
    while (a != entries_.end() || b != other.entries_.end()) {
        if (b == other.entries_.end() || (a != entries_.end() && a->replica < b->replica)) {
            ahead = true, ++a;
        } else if (a == entries_.end() || b->replica < a->replica) {
            behind = true, ++b;
        } else {
            ahead |= a->seq > b->seq;
            behind |= a->seq < b->seq;
            ++a, ++b;
        }
    }
    if (ahead && behind) return Causality::concurrent;
    if (ahead) return Causality::dominates;
    if (behind) return Causality::dominated;
    return Causality::equal;
}

bool VersionVector::includes(const VersionVector& other) const {
    auto c = compare(other);
    return c == Causality::equal || c == Causality::dominates;
}

std::uint64_t VersionVector::total() const {
    std::uint64_t sum = 0;
    for (const auto& e : entries_) sum += e.seq;
    return sum;
}

std::string VersionVector::to_string() const {
    std::string out = "{";
    for (const auto& e : entries_) {
        if (out.size() > 1) out += ", ";
        out += std::to_string(e.replica.region) + "." + std::to_string(e.replica.epoch) + ":" +
               std::to_string(e.seq);
    }
    return out + "}";
}

}  // namespace meridian::crdt
