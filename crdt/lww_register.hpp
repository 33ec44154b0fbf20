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

template <class T>
class LwwRegister {
public:
    struct Stamp {
        Hlc time;
        ReplicaId writer;
        friend constexpr auto operator<=>(const Stamp&, const Stamp&) = default;
    };

    LwwRegister() = default;

    // Writes `value` (or deletes, with std::nullopt) at `time` as `writer`.
    // The caller's clock must have ticked past every stamp it has seen (see
    // Hlc::receive) for a local write to win; the delta is returned either way.
    LwwRegister assign(ReplicaId writer, Hlc time, std::optional<T> value) {
        LwwRegister delta;
        delta.stamp_ = Stamp{time, writer};
        delta.value_ = std::move(value);
        delta.written_ = true;
        join(delta);
        return delta;
    }

    void join(const LwwRegister& other) {
        if (!other.written_) return;
        if (!written_ || stamp_ < other.stamp_ ||
            // Equal stamps come from one write and carry one value; ordering by
            // value keeps join commutative even if that were ever violated.
            (stamp_ == other.stamp_ && value_ < other.value_)) {
            // Emptied first: assigning a string keeps a longer old value's buffer.
            value_.reset();
            *this = other;
        }
    }

    // The current value, or std::nullopt when never written or deleted.
    const std::optional<T>& value() const { return value_; }
    bool written() const { return written_; }
    const Stamp& stamp() const { return stamp_; }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const { return value_ ? heap_bytes_of(*value_) : 0; }

    friend bool operator==(const LwwRegister&, const LwwRegister&) = default;

    template <class Archive, class U>
    friend void serialize(Archive& archive, LwwRegister<U>& reg);

private:
    Stamp stamp_{};
    std::optional<T> value_;
    bool written_ = false;
};

}  // namespace meridian::crdt
