// Heap accounting: what glibc's malloc takes for the blocks a value owns beyond its own sizeof.
// INFO memory and the node's in-memory log tail budget use it. Estimates by design: node sizes
// of std::map, std::set and std::unordered_map are libstdc++'s on 64-bit hosts.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

namespace meridian::crdt {

// A request of n bytes: an 8-byte header, rounded up to 16, at least 32 (0 for no block).
constexpr std::size_t malloc_chunk_bytes(std::size_t n) {
    return n == 0 ? 0 : std::max<std::size_t>(32, (n + 8 + 15) & ~std::size_t{15});
}

inline std::size_t heap_bytes_of(const std::string& s) {
    // libstdc++ keeps up to 15 characters inside the string itself.
    return s.capacity() > 15 ? malloc_chunk_bytes(s.capacity() + 1) : 0;
}

template <class T>
std::size_t heap_bytes_of(const std::vector<T>& v) {
    return malloc_chunk_bytes(v.capacity() * sizeof(T));
}

// A node of std::map / std::set holding `value_bytes`: colour, parent, left, right first.
constexpr std::size_t tree_node_bytes(std::size_t value_bytes) {
    return malloc_chunk_bytes(32 + value_bytes);
}

// A node of std::unordered_map holding `value_bytes`: next pointer first, cached hash after.
constexpr std::size_t hash_node_bytes(std::size_t value_bytes) {
    return malloc_chunk_bytes(8 + value_bytes + 8);
}

}  // namespace meridian::crdt
