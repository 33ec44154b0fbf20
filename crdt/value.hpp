// Value: the CRDT state of one key, one of the replicated data types. The
// keyspace holds Values; deltas travel as Values too, and joining a delta into
// a state of another type is refused as an error value.
#pragma once

#include <cstdint>
#include <memory>
#include <type_traits>
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

// A heap cell with value semantics: keeps a large alternative (the set, with
// its maps) from widening every Value, so a counter key stays small.
template <class T>
class Boxed {
public:
    Boxed() : cell_(std::make_unique<T>()) {}
    Boxed(T value) : cell_(std::make_unique<T>(std::move(value))) {}
    Boxed(const Boxed& other) : cell_(std::make_unique<T>(*other.cell_)) {}
    Boxed(Boxed&&) noexcept = default;
    Boxed& operator=(const Boxed& other) {
        if (this == &other) return *this;
        if (cell_) {
            *cell_ = *other.cell_;
        } else {
            cell_ = std::make_unique<T>(*other.cell_);  // a moved-from box gets a new cell
        }
        return *this;
    }
    Boxed& operator=(Boxed&&) noexcept = default;

    T& operator*() { return *cell_; }
    const T& operator*() const { return *cell_; }
    T* operator->() { return cell_.get(); }
    const T* operator->() const { return cell_.get(); }

    friend bool operator==(const Boxed& a, const Boxed& b) { return *a.cell_ == *b.cell_; }

private:
    std::unique_ptr<T> cell_;  // null only after a move; such a box is only destroyed or assigned
};

// The order matches Value's alternatives and is part of the wire format.
enum class ValueType : std::uint8_t { lww = 0, counter = 1, set = 2, bounded_counter = 3 };

std::string_view name_of(ValueType type);

class Value {
public:
    using State = std::variant<Register, PnCounter, Boxed<StringSet>, BoundedCounter>;

    Value() = default;  // a register never written
    Value(Register r) : state_(std::move(r)) {}
    Value(PnCounter c) : state_(std::move(c)) {}
    Value(StringSet s) : state_(std::move(s)) {}
    Value(BoundedCounter b) : state_(std::move(b)) {}

    // The bottom (empty) state of a type.
    static Value empty(ValueType type);

    ValueType type() const { return static_cast<ValueType>(state_.index()); }

    template <class T>
    T* as() {
        if constexpr (std::is_same_v<T, StringSet>) {
            auto* box = std::get_if<Boxed<StringSet>>(&state_);
            return box ? &**box : nullptr;
        } else {
            return std::get_if<T>(&state_);
        }
    }
    template <class T>
    const T* as() const {
        return const_cast<Value*>(this)->as<T>();
    }

    // Joins `other` in; refuses with Error::type_mismatch (changing nothing)
    // when it holds another type.
    Expected<void, Error> join(const Value& other);

    // Whether the key is visible to clients: a register holding a value, a
    // counter with unreset contributions, a non-empty set, a written bounded
    // counter.
    bool exists() const;

    // Heap bytes the state holds beyond sizeof(Value) (see crdt/heap_bytes.hpp): O(1), an
    // estimate for sets.
    std::size_t heap_bytes() const;

    const State& state() const { return state_; }

    friend bool operator==(const Value&, const Value&) = default;

    template <class Archive>
    friend void serialize(Archive& archive, Value& value);

private:
    State state_;
};

}  // namespace meridian::crdt
