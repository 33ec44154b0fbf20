// LwwRegister<T>: a last-writer-wins register. Writes are ordered by
// (hybrid logical clock, writing replica); the highest wins everywhere. A
// delete is a write of "absent" that wins and loses by the same rule, so a
// delete concurrent with a later-stamped write loses to it.
//
// A default-constructed register is bottom: never written, and the empty delta.
#pragma once

#include <compare>
#include <optional>
#include <utility>

#include "crdt/heap_bytes.hpp"
#include "crdt/hlc.hpp"
#include "crdt/ids.hpp"

namespace meridian::crdt {

// When and by whom a register was written: the order of last-writer-wins.
struct WriteStamp {
    Hlc time;
    ReplicaId writer;
    friend constexpr auto operator<=>(const WriteStamp&, const WriteStamp&) = default;
};

template <class T>
class LwwRegister {
public:
    using Stamp = WriteStamp;

    LwwRegister() = default;

    // Writes `value` (or deletes, with std::nullopt) at `time` as `writer`.
    // The caller's clock must have ticked past every stamp it has seen (see
    // Hlc::receive) for a local write to win; the delta is returned either way.
    LwwRegister assign(ReplicaId writer, Hlc time, std::optional<T> value) {
        LwwRegister delta;
        delta.time_ = time;
        delta.writer_ = writer;
        delta.value_ = std::move(value);
        delta.written_ = true;
        join(delta);
        return delta;
    }

    void join(const LwwRegister& other) {
        if (!other.written_) return;
        const auto order = stamp() <=> other.stamp();
        if (!written_ || order < 0 ||
            // Equal stamps come from one write and carry one value; ordering by
            // value keeps join commutative even if that were ever violated.
            (order == 0 && value_ < other.value_)) {
            // Emptied first: assigning a string keeps a longer old value's buffer.
            value_.reset();
            *this = other;
        }
    }

    // The current value, or std::nullopt when never written or deleted.
    const std::optional<T>& value() const { return value_; }
    bool written() const { return written_; }
    Stamp stamp() const { return Stamp{time_, writer_}; }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const { return value_ ? heap_bytes_of(*value_) : 0; }

    friend bool operator==(const LwwRegister&, const LwwRegister&) = default;

    template <class Archive, class U>
    friend void serialize(Archive& archive, LwwRegister<U>& reg);

private:
    // The stamp's fields, not a Stamp member, so written_ fits in the stamp's padding: a string
    // register is 56 bytes, no larger than a counter, which keeps every key's Value small.
    Hlc time_;
    ReplicaId writer_;
    bool written_ = false;
    std::optional<T> value_;
};

}  // namespace meridian::crdt
