// 128-bit arithmetic for counter sums, so an overflow of the 64-bit range is
// detected instead of wrapping. (`__extension__` keeps -Wpedantic quiet about
// the GCC/Clang builtin type.)
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

namespace meridian::crdt::detail {

__extension__ typedef __int128 Int128;

inline constexpr Int128 int64_min = std::numeric_limits<std::int64_t>::min();
inline constexpr Int128 int64_max = std::numeric_limits<std::int64_t>::max();

// The int64 nearest to `v`.
constexpr std::int64_t saturate(Int128 v) {
    return static_cast<std::int64_t>(std::clamp(v, int64_min, int64_max));
}

}  // namespace meridian::crdt::detail
