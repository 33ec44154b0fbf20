// LwwRegister<T>: a last-writer-wins register. Writes are ordered by
// (hybrid logical clock, writing replica); the highest wins everywhere. A
// delete is a write of "absent" that wins and loses by the same rule, so a
// delete concurrent with a later-stamped write loses to it.
//
// HLC order is not causality, so the register also keeps what it has observed: for each
// replica, the stamp of the latest write of that replica it has seen, unless the winner is that
// write or a later one of the same replica (a write saw every earlier write of its replica). A
// write's delta carries what its writer had observed, so a join can tell a write that replaced the
// value it had seen from one that never saw it: a concurrent overwrite, which join() reports for
// conflict accounting. A key only ever written by one replica keeps nothing more than before.
//
// A default-constructed register is bottom: never written, and the empty delta.
#pragma once

#include <algorithm>
#include <compare>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "crdt/box.hpp"
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

// The latest write of one replica that a register has observed.
struct SeenWrite {
    ReplicaId replica;
    Hlc time;
    friend bool operator==(const SeenWrite&, const SeenWrite&) = default;
};

template <class T>
class LwwRegister {
public:
    using Stamp = WriteStamp;

    // A write that lost its place to a write that had not observed it (see join()).
    struct Overwritten {
        Stamp loser;
        std::optional<T> value;  // what the losing write wrote (nullopt: it deleted)
        Stamp winner;
    };

    LwwRegister() = default;

    // Writes `value` (or deletes, with std::nullopt) at `time` as `writer`.
    // The caller's clock must have ticked past every stamp it has seen (see
    // Hlc::receive) for a local write to win; the delta is returned either way.
    LwwRegister assign(ReplicaId writer, Hlc time, std::optional<T> value) {
        LwwRegister delta;
        delta.time_ = time;
        delta.writer_ = writer;
        delta.written_ = true;
        delta.present_ = value.has_value();
        if (value) delta.value_ = std::move(*value);
        delta.seen_ = seen_;
        if (written_) insert_seen(delta.seen_, SeenWrite{writer_, time_});
        delta.drop_implied_seen();
        (void)join(delta);
        return delta;
    }

    // Joins `other` in. When `other`'s write replaces this register's and had not observed it
    // (the two were concurrent), returns the replaced write; otherwise nullopt.
    std::optional<Overwritten> join(const LwwRegister& other) {
        if (!other.written_) return std::nullopt;
        if (!written_) {
            *this = other;
            return std::nullopt;
        }
        const auto order = stamp() <=> other.stamp();
        // Equal stamps come from one write and carry one value; ordering by
        // value keeps join commutative even if that were ever violated.
        if (order > 0 || (order == 0 && !value_less_than(other))) {
            observe(other);
            return std::nullopt;
        }
        std::optional<Overwritten> lost;
        if (other.writer_ != writer_ && other.seen_time(writer_) < time_)
            lost = Overwritten{stamp(), value(), other.stamp()};
        if (other.writer_ != writer_)
            insert_seen(seen_, SeenWrite{writer_, time_});  // else implied
        time_ = other.time_;
        writer_ = other.writer_;
        present_ = other.present_;
        // Emptied first: assigning a string keeps a longer old value's buffer.
        (void)std::exchange(value_, T{});
        if (present_) value_ = other.value_;
        for (const SeenWrite& s : other.seen()) insert_seen(seen_, s);
        drop_implied_seen();
        return lost;
    }

    // The current value, or std::nullopt when never written or deleted (a copy: get() reads in
    // place).
    std::optional<T> value() const { return present_ ? std::optional<T>(value_) : std::nullopt; }
    // The current value in place, or nullptr when never written or deleted.
    const T* get() const { return present_ ? &value_ : nullptr; }
    bool written() const { return written_; }
    Stamp stamp() const { return Stamp{time_, writer_}; }
    // The latest write of each replica that this register has observed, sorted by replica, less
    // what the winner implies; empty while only one replica ever wrote it.
    std::span<const SeenWrite> seen() const {
        if (const auto* s = seen_.get()) return *s;
        return {};
    }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp).
    std::size_t heap_bytes() const {
        const auto* s = seen_.get();
        return (present_ ? heap_bytes_of(value_) : 0) +
               (s ? malloc_chunk_bytes(sizeof(*s)) + heap_bytes_of(*s) : 0);
    }

    friend bool operator==(const LwwRegister&, const LwwRegister&) = default;

    template <class Archive, class U>
    friend void serialize(Archive& archive, LwwRegister<U>& reg);

private:
    using Seen = std::vector<SeenWrite>;

    // When the latest write of `replica` this register observed was stamped (zero: none).
    Hlc seen_time(ReplicaId replica) const {
        for (const SeenWrite& s : seen()) {
            if (s.replica == replica) return s.time;
        }
        return written_ && replica == writer_ ? time_ : Hlc{};
    }

    // Takes in what `other`, a write that does not win here, observed, its winner included.
    void observe(const LwwRegister& other) {
        if (other.writer_ == writer_ && !other.seen_.get()) return;  // one writer: nothing to keep
        for (const SeenWrite& s : other.seen()) insert_seen(seen_, s);
        insert_seen(seen_, SeenWrite{other.writer_, other.time_});
        drop_implied_seen();
    }

    bool value_less_than(const LwwRegister& other) const {
        return other.present_ && (!present_ || value_ < other.value_);
    }

    static void insert_seen(OptionalBox<Seen>& seen, SeenWrite write) {
        Seen& entries = seen.emplace();
        auto it = std::lower_bound(entries.begin(), entries.end(), write.replica,
                                   [](const SeenWrite& s, ReplicaId r) { return s.replica < r; });
        if (it != entries.end() && it->replica == write.replica) {
            it->time = std::max(it->time, write.time);
        } else {
            entries.insert(it, write);
        }
    }

    // Drops the winner's replica's entry when the winner implies it, as it does whenever that
    // replica stamps its writes in order (a TTL reclaim, stamped for the TTL's writer, need not).
    void drop_implied_seen() {
        Seen* entries = seen_.get();
        if (!entries) return;
        std::erase_if(*entries,
                      [&](const SeenWrite& s) { return s.replica == writer_ && s.time <= time_; });
        if (entries->empty()) seen_.reset();
    }

    // The stamp's fields, not a Stamp member, and the value with its own presence flag rather
    // than a std::optional, so the flags fit in the stamp's padding and the observed writes cost
    // one pointer: a string register stays 56 bytes, no larger than a counter, which keeps every
    // key's Value small.
    Hlc time_;
    ReplicaId writer_;
    bool written_ = false;
    bool present_ = false;
    T value_{};
    OptionalBox<Seen> seen_;  // null while empty
};

}  // namespace meridian::crdt
