// Hybrid logical clock (Kulkarni et al.): 48 bits of physical milliseconds and
// 16 logical bits in one 64-bit value, so timestamps compare as integers and
// stay close to wall time. Pure: the caller passes the physical time in.
#pragma once

#include <compare>
#include <cstdint>

namespace meridian::crdt {

class Hlc {
public:
    static constexpr int logical_bits = 16;
    static constexpr std::uint64_t max_physical_ms = (std::uint64_t{1} << 48) - 1;

    constexpr Hlc() = default;
    static constexpr Hlc from_packed(std::uint64_t packed) { return Hlc(packed); }
    static constexpr Hlc from_parts(std::uint64_t physical_ms, std::uint16_t logical) {
        return Hlc(((physical_ms & max_physical_ms) << logical_bits) | logical);
    }

    constexpr std::uint64_t packed() const { return packed_; }
    constexpr std::uint64_t physical_ms() const { return packed_ >> logical_bits; }
    constexpr std::uint16_t logical() const { return static_cast<std::uint16_t>(packed_); }

    // The timestamp of a local event (a write or a send) after `last`, at
    // physical time `now_ms`. Strictly greater than `last`; when the logical
    // part is exhausted it carries into the physical part.
    static constexpr Hlc tick(Hlc last, std::uint64_t now_ms) {
        return max(from_parts(now_ms, 0), after(last));
    }

    // The timestamp after receiving `remote`: greater than both `last` and
    // `remote`, so anything written afterwards orders after what was received.
    static constexpr Hlc receive(Hlc last, Hlc remote, std::uint64_t now_ms) {
        return max(tick(last, now_ms), after(remote));
    }

    friend constexpr auto operator<=>(Hlc, Hlc) = default;

private:
    constexpr explicit Hlc(std::uint64_t packed) : packed_(packed) {}
    static constexpr Hlc after(Hlc h) { return Hlc(h.packed_ + 1); }
    static constexpr Hlc max(Hlc a, Hlc b) { return a < b ? b : a; }

    std::uint64_t packed_ = 0;
};

}  // namespace meridian::crdt
