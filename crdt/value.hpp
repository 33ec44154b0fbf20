// Value: the CRDT state of one key, one of the replicated data types. The
// keyspace holds Values; deltas travel as Values too, and joining a delta into
// a state of another type is refused as an error value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "crdt/bounded_counter.hpp"
#include "crdt/error.hpp"
#include "crdt/expected.hpp"
#include "crdt/lww_register.hpp"
#include "crdt/or_set.hpp"
#include "crdt/pn_counter.hpp"

namespace meridian::crdt {

using Register = LwwRegister<std::string>;
using StringSet = OrSet<std::string>;

// The order matches Value's alternatives and is part of the wire format.
enum class ValueType : std::uint8_t { lww = 0, counter = 1, set = 2, bounded_counter = 3 };

std::string_view name_of(ValueType type);

class Value {
public:
    using State = std::variant<Register, PnCounter, StringSet, BoundedCounter>;

    Value() = default;  // a register never written
    Value(Register r) : state_(std::move(r)) {}
    Value(PnCounter c) : state_(std::move(c)) {}
    Value(StringSet s) : state_(std::move(s)) {}
    Value(BoundedCounter b) : state_(std::move(b)) {}

    // The bottom (empty) state of a type.
    static Value empty(ValueType type);

    ValueType type() const { return static_cast<ValueType>(state_.index()); }

    template <class T>
    T* as() { return std::get_if<T>(&state_); }
    template <class T>
    const T* as() const { return std::get_if<T>(&state_); }

    // Joins `other` in; refuses with Error::type_mismatch (changing nothing)
    // when it holds another type.
    Expected<void, Error> join(const Value& other);

    // Whether the key is visible to clients: a register holding a value, a
    // counter with unreset contributions, a non-empty set, a written bounded
    // counter.
    bool exists() const;

    const State& state() const { return state_; }

    friend bool operator==(const Value&, const Value&) = default;

    template <class Archive>
    friend void serialize(Archive& archive, Value& value);

private:
    State state_;
};

}  // namespace meridian::crdt
