// OrSet<T>: an add-wins observed-remove set on a dot kernel (Almeida, Shoker,
// Baquero, "Delta state replicated data types"). Every add tags the element
// with a fresh dot; a remove deletes the dots it observed. An add concurrent
// with a remove carries a dot the remove never saw, so the add survives.
//
// There are no element tombstones: the causal context remembers which dots
// were seen, and a remove delta is nothing but that context. Dots here are
// per set (replica, n-th add of that replica to this set), so each set's
// context stays a compact version vector.
//
// Members and the by-dot index are Abseil hash maps, so an add, a remove or the join of a small
// delta costs the same in a set of ten members as in one of millions (a std::map's walk of
// cache misses grew with the set). Whatever needs an order (value(), the encoding) sorts.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "crdt/dot_context.hpp"

namespace meridian::crdt {

template <class T>
class OrSet {
public:
    using Dots = std::vector<Dot>;  // the dots supporting one element (usually one), sorted
    // Node-based: by_dot_ points at the keys, which must not move when the table grows.
    using Entries = absl::node_hash_map<T, Dots>;

    OrSet() = default;
    OrSet(const OrSet& other) : entries_(other.entries_), context_(other.context_) { reindex(); }
    OrSet(OrSet&&) noexcept = default;
    OrSet& operator=(const OrSet& other) {
        if (this != &other) {
            entries_ = other.entries_;
            context_ = other.context_;
            reindex();
        }
        return *this;
    }
    OrSet& operator=(OrSet&&) noexcept = default;

    // Adds `element` as `replica`; re-adding replaces the dots it had.
    OrSet add(ReplicaId replica, const T& element) {
        OrSet delta;
        const Dot dot = context_.make_dot(replica);
        auto it = entries_.find(element);
        if (it != entries_.end()) {
            for (const Dot& old : it->second) {
                delta.context_.insert(old);
                by_dot_.erase(old);
            }
            it->second.assign(1, dot);
        } else {
            it = entries_.emplace(element, Dots{dot}).first;
        }
        by_dot_.emplace(dot, &it->first);
        delta.context_.insert(dot);
        delta.context_.compact();
        delta.insert_dot(element, dot);
        return delta;
    }

    // Removes `element` if present; the delta is the dots that were observed.
    OrSet remove(const T& element) {
        OrSet delta;
        if (auto it = entries_.find(element); it != entries_.end()) {
            for (const Dot& old : it->second) delta.context_.insert(old);
            drop_element(it);
        }
        delta.context_.compact();
        return delta;
    }

    // Removes every observed element (DEL): adds concurrent with it survive.
    OrSet clear() {
        OrSet delta;
        for (const auto& [element, dots] : entries_)
            for (const Dot& old : dots) delta.context_.insert(old);
        entries_.clear();
        by_dot_.clear();
        delta.context_.compact();
        return delta;
    }

    // Joins `other` in. Returns how many times an add won over a concurrent remove here (add-wins,
    // counted as conflicts): members `other` removed but that stay for adds the remove had not
    // observed, plus a member `other` re-adds that this state had removed from under it.
    std::size_t join(const OrSet& other) {
        // Drop our dots that the other side has seen but no longer holds,
        // scanning whichever of the two is smaller: a remove delta's context
        // is tiny next to a large set.
        std::vector<Dot> removed;
        auto consider = [&](const Dot& dot) {
            if (other.context_.contains(dot) && !other.by_dot_.contains(dot)) removed.push_back(dot);
        };
        if (other.context_.dot_count() < by_dot_.size()) {
            other.context_.for_each_dot([&](const Dot& dot) {
                if (by_dot_.contains(dot)) consider(dot);
            });
        } else {
            for (const auto& [dot, element] : by_dot_) consider(dot);
        }
        const std::size_t adds_kept = (removed.empty() ? 0 : count_adds_kept(other, removed)) +
                                      (revives_removed(other) ? 1 : 0);
        for (const Dot& dot : removed) drop_dot(dot);

        // Take the other side's dots that we have never seen.
        for (const auto& [element, dots] : other.entries_)
            for (const Dot& dot : dots)
                if (!context_.contains(dot)) insert_dot(element, dot);

        context_.join(other.context_);
        return adds_kept;
    }

    bool contains(const T& element) const { return entries_.contains(element); }
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }
    // The members, in order.
    std::vector<T> value() const {
        std::vector<T> members;
        members.reserve(entries_.size());
        for (const auto& [element, dots] : entries_) members.push_back(element);
        std::sort(members.begin(), members.end());
        return members;
    }
    // Members with their dots, in no particular order (sorted_entries() for the encoding's).
    const Entries& entries() const { return entries_; }
    // The entries sorted by member: the order of the encoding (a std::map's, as it always was).
    std::vector<const typename Entries::value_type*> sorted_entries() const {
        using Entry = typename Entries::value_type;
        std::vector<const Entry*> sorted;
        sorted.reserve(entries_.size());
        if constexpr (std::is_same_v<T, std::string>) {
            // Comparing through the pointers is a cache miss per comparison (7x slower than the
            // std::map's walk for a million members): sort on each member's first 8 bytes,
            // gathered in one pass, and compare whole members only where those tie.
            struct Keyed {
                std::uint64_t head;  // big-endian first bytes, zero-padded: orders as memcmp does
                const Entry* entry;
            };
            std::vector<Keyed> keyed;
            keyed.reserve(entries_.size());
            for (const Entry& entry : entries_) {
                std::uint64_t head = 0;
                const std::size_t n = std::min<std::size_t>(entry.first.size(), 8);
                for (std::size_t i = 0; i < n; ++i)
                    head |= std::uint64_t{static_cast<unsigned char>(entry.first[i])}
                            << (56 - 8 * i);
                keyed.push_back({head, &entry});
            }
            std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
                return a.head != b.head ? a.head < b.head : a.entry->first < b.entry->first;
            });
            for (const Keyed& k : keyed) sorted.push_back(k.entry);
        } else {
            for (const Entry& entry : entries_) sorted.push_back(&entry);
            std::sort(sorted.begin(), sorted.end(),
                      [](const Entry* a, const Entry* b) { return a->first < b->first; });
        }
        return sorted;
    }
    const DotContext& context() const { return context_; }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp), from the container sizes alone so
    // that it costs O(1): members' own heap (strings past the small-string buffer) is left out.
    std::size_t heap_bytes() const {
        // Swiss tables: one control byte and one slot per capacity (plus a group of control
        // bytes), the node map's nodes on their own.
        using Node = typename Entries::value_type;
        using Index = std::pair<const Dot, const T*>;
        constexpr std::size_t kGroup = 16;
        const auto table = [](std::size_t capacity, std::size_t slot) {
            return capacity == 0 ? 0 : malloc_chunk_bytes(capacity * (1 + slot) + kGroup);
        };
        const std::size_t extra_dots = by_dot_.size() - entries_.size();  // beyond one each
        return table(entries_.capacity(), sizeof(void*)) +
               entries_.size() *
                   (malloc_chunk_bytes(sizeof(Node)) + malloc_chunk_bytes(sizeof(Dot))) +
               extra_dots * sizeof(Dot) + table(by_dot_.capacity(), sizeof(Index)) +
               context_.heap_bytes();
    }

    friend bool operator==(const OrSet& a, const OrSet& b) {
        return a.entries_ == b.entries_ && a.context_ == b.context_;
    }

    template <class Archive, class U>
    friend void serialize(Archive& archive, OrSet<U>& set);

private:
    void insert_dot(const T& element, const Dot& dot) {
        auto it = entries_.try_emplace(element).first;
        it->second.push_back(dot);
        std::sort(it->second.begin(), it->second.end());
        by_dot_.emplace(dot, &it->first);
    }

    // Of the members losing `removed` (dots `other` saw and dropped), those that `other` does not
    // hold (it removed them rather than re-adding) and that keep a dot it never saw.
    std::size_t count_adds_kept(const OrSet& other, const std::vector<Dot>& removed) const {
        std::vector<const T*> members;
        members.reserve(removed.size());
        for (const Dot& dot : removed) members.push_back(by_dot_.at(dot));
        std::sort(members.begin(), members.end());
        members.erase(std::unique(members.begin(), members.end()), members.end());
        return std::count_if(members.begin(), members.end(), [&](const T* member) {
            if (other.entries_.contains(*member)) return false;
            const Dots& dots = entries_.find(*member)->second;
            return std::any_of(dots.begin(), dots.end(),
                               [&](const Dot& dot) { return !other.context_.contains(dot); });
        });
    }

    // Whether `other` is one add's delta (one member, its context the dots the add replaced and
    // its own) for a member this state does not hold, that replaced a dot this state has seen:
    // the adder still held the member, which a remove here had taken out.
    bool revives_removed(const OrSet& other) const {
        if (other.entries_.size() != 1) return false;
        const T& member = other.entries_.begin()->first;
        const Dots& dots = other.entries_.begin()->second;  // not a binding: lambdas capture it
        constexpr std::size_t kMostReplaced = 8;  // a full state is no add's delta: not scanned
        if (entries_.contains(member) || other.context_.dot_count() > dots.size() + kMostReplaced)
            return false;
        if (std::all_of(dots.begin(), dots.end(),
                        [&](const Dot& d) { return context_.contains(d); }))
            return false;  // seen before: a replay
        bool revives = false;
        other.context_.for_each_dot([&](const Dot& d) {
            if (!std::binary_search(dots.begin(), dots.end(), d) && context_.contains(d))
                revives = true;
        });
        return revives;
    }

    void drop_dot(const Dot& dot) {
        auto found = by_dot_.find(dot);
        if (found == by_dot_.end()) return;
        auto it = entries_.find(*found->second);
        by_dot_.erase(found);
        std::erase(it->second, dot);
        if (it->second.empty()) entries_.erase(it);
    }

    void drop_element(typename Entries::iterator it) {
        for (const Dot& dot : it->second) by_dot_.erase(dot);
        entries_.erase(it);
    }

    void reindex() {
        by_dot_.clear();
        by_dot_.reserve(entries_.size());
        for (const auto& [element, dots] : entries_)
            for (const Dot& dot : dots) by_dot_.emplace(dot, &element);
    }

    Entries entries_;
    DotContext context_;
    // Which element each dot supports; points at keys of entries_, whose nodes
    // never move, so the index survives moves but is rebuilt on copy.
    absl::flat_hash_map<Dot, const T*> by_dot_;
};

}  // namespace meridian::crdt
