// VersionVector: for each replica, the highest sequence number of its writes
// whose effects are held contiguously (1..n). Small (one entry per replica that
// ever wrote), so it is a sorted vector rather than a map.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "crdt/heap_bytes.hpp"
#include "crdt/ids.hpp"

namespace meridian::crdt {

// How two version vectors relate.
enum class Causality : std::uint8_t {
    equal,       // the same
    dominates,   // the left one has seen everything the right one has, and more
    dominated,   // the right one dominates the left
    concurrent,  // each has seen something the other has not
};

class VersionVector {
public:
    struct Entry {
        ReplicaId replica;
        std::uint64_t seq = 0;
        friend bool operator==(const Entry&, const Entry&) = default;
    };

    VersionVector() = default;

    std::uint64_t get(ReplicaId replica) const;
    bool contains(const Dot& dot) const { return get(dot.replica) >= dot.seq; }

    // Raises the entry of `replica` to `seq` (never lowers it).
    void advance(ReplicaId replica, std::uint64_t seq);
    // Pointwise maximum.
    void merge(const VersionVector& other);
    // Pointwise minimum (entries missing on either side count as 0).
    void meet(const VersionVector& other);

    Causality compare(const VersionVector& other) const;
    // True when every entry is at least the other's (equal or dominating).
    bool includes(const VersionVector& other) const;

    bool empty() const { return entries_.empty(); }
    std::span<const Entry> entries() const { return entries_; }
    // Sum of all entries: how many writes this vector summarises.
    std::uint64_t total() const;
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const { return heap_bytes_of(entries_); }

    std::string to_string() const;  // "{1.0:5, 2.0:7}" (region.epoch:seq)

    friend bool operator==(const VersionVector&, const VersionVector&) = default;

    template <class Archive>
    friend void serialize(Archive& archive, VersionVector& vv);

private:
    std::vector<Entry> entries_;  // sorted by replica; no zero entries
};

}  // namespace meridian::crdt
