// Identities of writers and of their writes.
//
// A region is a configured site (a small integer id from the cluster file). A
// replica is one incarnation of a region: a region that restarts after an
// unclean shutdown without `fsync = always` may have lost writes that its
// peers already hold, so it continues as a new replica (epoch + 1). Dots,
// version vectors and CRDT entries are indexed by replica, which is what makes
// it impossible to reuse a sequence number or a counter entry with different
// contents after such a loss.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace meridian::crdt {

using RegionId = std::uint16_t;

struct ReplicaId {
    RegionId region = 0;
    std::uint16_t epoch = 0;

    friend constexpr auto operator<=>(const ReplicaId&, const ReplicaId&) = default;
    constexpr std::uint32_t packed() const { return (std::uint32_t{region} << 16) | epoch; }
};

// The identity of one write: the replica that made it and its sequence number
// (1, 2, 3, ... per replica, so a version vector can summarise a prefix).
struct Dot {
    ReplicaId replica;
    std::uint64_t seq = 0;

    friend constexpr auto operator<=>(const Dot&, const Dot&) = default;
    // Abseil's hash hook (a template: nothing of Abseil is included here).
    template <class H>
    friend H AbslHashValue(H h, const Dot& d) {
        return H::combine(static_cast<H&&>(h), d.replica.packed(), d.seq);
    }
};

}  // namespace meridian::crdt

template <>
struct std::hash<meridian::crdt::ReplicaId> {
    std::size_t operator()(meridian::crdt::ReplicaId r) const noexcept {
        return std::hash<std::uint32_t>{}(r.packed());
    }
};

template <>
struct std::hash<meridian::crdt::Dot> {
    std::size_t operator()(const meridian::crdt::Dot& d) const noexcept {
        return std::hash<std::uint64_t>{}(d.seq * 0x9E3779B97F4A7C15ull ^ d.replica.packed());
    }
};
