// SmallVector<T>: a contiguous sequence of trivially copyable T that keeps its first element
// inside itself. Most counters are written by one region: with a std::vector, the one entry
// would be a heap block of its own, costing more than the key's other memory (docs/BENCHMARKS.md).
// Only what the CRDTs need: iteration, insert, push_back, resize for decoding.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

#include "crdt/heap_bytes.hpp"

namespace meridian::crdt {

template <class T>
class SmallVector {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

public:
    using value_type = T;
    using iterator = T*;
    using const_iterator = const T*;

    SmallVector() = default;
    SmallVector(const SmallVector& other) { append(other.begin(), other.end()); }
    SmallVector(SmallVector&& other) noexcept { take(other); }
    SmallVector& operator=(const SmallVector& other) {
        if (this != &other) {
            size_ = 0;
            append(other.begin(), other.end());
        }
        return *this;
    }
    SmallVector& operator=(SmallVector&& other) noexcept {
        if (this != &other) {
            release();
            take(other);
        }
        return *this;
    }
    ~SmallVector() { release(); }

    T* data() { return on_heap() ? storage_.heap : &storage_.one; }
    const T* data() const { return on_heap() ? storage_.heap : &storage_.one; }
    iterator begin() { return data(); }
    iterator end() { return data() + size_; }
    const_iterator begin() const { return data(); }
    const_iterator end() const { return data() + size_; }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    T& operator[](std::size_t i) { return data()[i]; }
    const T& operator[](std::size_t i) const { return data()[i]; }

    iterator insert(const_iterator pos, const T& value) {
        const std::size_t index = static_cast<std::size_t>(pos - begin());
        const T copy = value;  // `value` may live in this vector
        reserve(size_ + 1);
        T* at = data() + index;
        std::memmove(at + 1, at, (size_ - index) * sizeof(T));
        std::memcpy(at, &copy, sizeof(T));
        ++size_;
        return at;
    }
    void push_back(const T& value) { insert(end(), value); }

    // New elements are value-initialised.
    void resize(std::size_t n) {
        reserve(n);
        for (std::size_t i = size_; i < n; ++i) ::new (static_cast<void*>(data() + i)) T{};
        size_ = static_cast<std::uint32_t>(n);
    }

    // Heap bytes beyond sizeof (see crdt/heap_bytes.hpp): none while one element fits inside.
    std::size_t heap_bytes() const { return on_heap() ? malloc_chunk_bytes(capacity_ * sizeof(T)) : 0; }

    friend bool operator==(const SmallVector& a, const SmallVector& b) {
        return std::equal(a.begin(), a.end(), b.begin(), b.end());
    }

private:
    bool on_heap() const { return capacity_ > 1; }

    void reserve(std::size_t n) {
        if (n <= capacity_) return;
        if (n > std::numeric_limits<std::uint32_t>::max() / 2) throw std::bad_alloc();
        const std::size_t grown = std::max<std::size_t>(n, std::size_t{capacity_} * 2);
        T* heap = static_cast<T*>(::operator new(grown * sizeof(T)));
        std::memcpy(heap, data(), size_ * sizeof(T));
        release();
        storage_.heap = heap;
        capacity_ = static_cast<std::uint32_t>(grown);
    }

    void append(const T* first, const T* last) {
        const auto n = static_cast<std::size_t>(last - first);
        reserve(size_ + n);
        if (n != 0) std::memcpy(data() + size_, first, n * sizeof(T));
        size_ += static_cast<std::uint32_t>(n);
    }

    void release() {
        if (on_heap()) ::operator delete(storage_.heap);
        capacity_ = 1;
    }

    void take(SmallVector& other) {
        // Only the live member: the inline slot of an empty vector holds no value.
        if (other.on_heap()) {
            storage_.heap = other.storage_.heap;
        } else if (other.size_ != 0) {
            storage_.one = other.storage_.one;
        }
        size_ = std::exchange(other.size_, 0);
        capacity_ = std::exchange(other.capacity_, 1);
    }

    union Storage {
        Storage() : heap(nullptr) {}  // size_ and capacity_ say which member is live
        T one;
        T* heap;
    } storage_;
    std::uint32_t size_ = 0;
    std::uint32_t capacity_ = 1;  // 1: the element (if any) is storage_.one
};

}  // namespace meridian::crdt
