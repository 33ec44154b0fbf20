// Value: the CRDT state of one key, one of the replicated data types, and the
// key's time to live. The keyspace holds Values; deltas travel as Values too,
// and joining a delta into a state of another type is refused as an error value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "crdt/bounded_counter.hpp"
#include "crdt/box.hpp"
#include "crdt/error.hpp"
#include "crdt/expected.hpp"
#include "crdt/hash.hpp"
#include "crdt/lww_register.hpp"
#include "crdt/or_set.hpp"
#include "crdt/pn_counter.hpp"

namespace meridian::crdt {

using Register = LwwRegister<std::string>;
using StringSet = OrSet<std::string>;

// A key's time to live, as replicated state beside its value: a last-writer-wins register of
// the deadline (HLC physical milliseconds since the Unix epoch; nullopt: never), written by
// EXPIRE and its kin, PERSIST and SET ... EX. Concurrent TTL writes resolve by (HLC, writer) as
// lww keys do. A register write that replaces the value (SET without KEEPTTL) voids every
// deadline stamped before it (Value::deadline), so clearing a TTL on SET needs no TTL write.
using Expiry = LwwRegister<std::uint64_t>;

// The order matches Value's alternatives and is part of the wire format.
enum class ValueType : std::uint8_t {
    lww = 0,
    counter = 1,
    set = 2,
    bounded_counter = 3,
    hash = 4
};

std::string_view name_of(ValueType type);

// What a join decided that conflict accounting counts: the events where two regions' writes met
// without either having observed the other. Counting them costs the join a few comparisons; the
// write path pays nothing.
struct JoinReport {
    // lww: the write this value held, replaced by a write that had not observed it.
    std::optional<Register::Overwritten> overwritten;
    // set: members the joined state removed but that stay, for adds the remove had not observed.
    std::size_t adds_kept = 0;
    // counter: the join raised an entry of a counter that more than one replica wrote.
    bool counter_merged = false;
    // counter: the owner of the seal in force, when the join brought writes of another replica
    // that the seal does not count (crdt/pn_counter.hpp). At that owner they are writes an old
    // owner of the key's home made in its last lease, which the seal undid.
    std::optional<ReplicaId> counter_sealed_out_by;
};

class Value {
public:
    using State = std::variant<Register, PnCounter, Boxed<StringSet>, BoundedCounter, Boxed<Hash>>;

    Value() = default;  // a register never written
    Value(Register r) : state_(std::move(r)) {}
    Value(PnCounter c) : state_(std::move(c)) {}
    Value(StringSet s) : state_(std::move(s)) {}
    Value(BoundedCounter b) : state_(std::move(b)) {}
    Value(Hash h) : state_(std::move(h)) {}

    // The bottom (empty) state of a type.
    static Value empty(ValueType type);

    ValueType type() const { return static_cast<ValueType>(state_.index()); }

    template <class T>
    T* as() {
        if constexpr (std::is_same_v<T, StringSet> || std::is_same_v<T, Hash>) {
            auto* box = std::get_if<Boxed<T>>(&state_);
            return box ? &**box : nullptr;
        } else {
            return std::get_if<T>(&state_);
        }
    }
    template <class T>
    const T* as() const {
        return const_cast<Value*>(this)->as<T>();
    }

    // Joins `other` in, its TTL too; refuses with Error::type_mismatch (changing
    // nothing) when it holds another type.
    Expected<JoinReport, Error> join(const Value& other);

    // Whether the state shows something to a client, its TTL aside: a register
    // holding a value, a counter with unreset contributions, a non-empty set, a
    // written bounded counter, a hash with a field.
    bool exists() const;

    // The TTL register; nullptr until a TTL was written.
    const Expiry* expiry() const { return expiry_.get(); }
    // Writes the TTL (`deadline_ms`, or never) at `time` as `writer`; returns the delta: a
    // value of this type that holds nothing but the TTL write.
    Value expire(ReplicaId writer, Hlc time, std::optional<std::uint64_t> deadline_ms);
    // When the key stops existing, if it will: the TTL's deadline, unless the TTL says never
    // or (lww) a register write stamped after the TTL replaced the value.
    std::optional<std::uint64_t> deadline() const;
    // Whether a client sees the key at `now_ms` (HLC physical milliseconds): it exists and its
    // deadline, if any, has not passed. As in Redis, a key lives through its deadline's
    // millisecond and is gone once now > deadline.
    bool live_at(std::uint64_t now_ms) const {
        if (!exists()) return false;
        const auto until = deadline();
        return !until || now_ms <= *until;
    }

    // The highest HLC stamped on any write the value holds (register, hash fields, TTL), or
    // nullopt: a region's clock ticks past it on receipt, so its own later writes win.
    std::optional<Hlc> latest_time() const;

    // Heap bytes the state holds beyond sizeof(Value) (see crdt/heap_bytes.hpp): O(1), an
    // estimate for sets.
    std::size_t heap_bytes() const;

    const State& state() const { return state_; }

    friend bool operator==(const Value&, const Value&) = default;

    // Defined in crdt/serialization.hpp. Members, not free functions: a free save(const Value&)
    // would also match every state type, which converts to Value implicitly.
    template <class Archive>
    void save(Archive& archive) const;
    template <class Archive>
    void load(Archive& archive);

private:
    State state_;
    OptionalBox<Expiry> expiry_;  // never holds an unwritten register
};

}  // namespace meridian::crdt
