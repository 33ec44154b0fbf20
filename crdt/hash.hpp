// Hash: an observed-remove map of string fields (HSET, HDEL, HINCRBY), a dot
// kernel as OrSet is (Almeida, Shoker, Baquero, "Delta state replicated data
// types"). Each field holds
//   - the HSET writes that no write or delete at their region had observed when
//     they were made, each tagged with a dot (a multi-value register): the one
//     with the highest (HLC, writer) is the field's text, last-writer-wins;
//   - a PnCounter of HINCRBY amounts, added to the text's integer (absent: 0).
// HSET and HDEL remove the writes they observed and reset the counter (undoing
// the increments they observed). A field is present while it holds a write or
// an unreset increment, so an HSET or HINCRBY concurrent with an HDEL or DEL
// survives it (add-wins), and an HINCRBY concurrent with an HSET adds to the
// value set.
//
// Dots are per hash, as OrSet's are, so the causal context stays a compact
// version vector. A field whose writes are all removed but whose counter keeps
// baselines stays as a hidden entry: the baselines must cancel old increments
// that may still arrive.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/node_hash_map.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/dot_context.hpp"
#include "crdt/error.hpp"
#include "crdt/expected.hpp"
#include "crdt/hlc.hpp"
#include "crdt/pn_counter.hpp"

namespace meridian::crdt {

// A whole signed 64-bit decimal in canonical form ("12", "-7", "0"; not "+1", "01", "-0", " 1"),
// as Redis reads the value HINCRBY adds to.
std::optional<std::int64_t> canonical_int(std::string_view text);

class Hash {
public:
    // One HSET of a field; its writer is dot.replica.
    struct Write {
        Dot dot;
        Hlc time;
        std::string value;
        friend bool operator==(const Write&, const Write&) = default;
    };
    struct Field {
        std::vector<Write> writes;  // sorted by dot; usually one
        PnCounter counter;
        friend bool operator==(const Field&, const Field&) = default;
    };
    // Node-based: by_dot_ points at the keys, which must not move when the table grows.
    using Fields = absl::node_hash_map<std::string, Field>;

    Hash() = default;
    Hash(const Hash& other) : fields_(other.fields_), context_(other.context_) { reindex(); }
    Hash(Hash&&) noexcept = default;
    Hash& operator=(const Hash& other);
    Hash& operator=(Hash&&) noexcept = default;

    // HSET of one field: `value` replaces every write and increment of it observed here.
    Hash set(ReplicaId writer, Hlc time, const std::string& field, std::string value);
    // HINCRBY: adds `amount` to the field's counter (creating the field at 0). Refuses with
    // Error::overflow when the counter's own sum would leave the int64 range; whether the
    // field's value stays in range is the caller's check (value_of + amount).
    Expected<Hash, Error> increment(ReplicaId writer, const std::string& field,
                                    std::int64_t amount);
    // HDEL of one field: removes what this replica observed of it.
    Hash remove(const std::string& field);
    // DEL: removes every observed field; concurrent writes survive.
    Hash clear();

    void join(const Hash& other);

    // What a client sees of a field: the winning write's text, plus the counter when it has
    // unreset increments and the text is an integer (or absent). nullopt: not present.
    std::optional<std::string> value_of(const std::string& field) const;
    bool contains(const std::string& field) const;
    // Present fields: O(fields held), hidden ones included.
    std::size_t size() const;
    bool empty() const;
    // Present fields and their values, sorted by field.
    std::vector<std::pair<std::string, std::string>> items() const;

    const Fields& fields() const { return fields_; }
    const DotContext& context() const { return context_; }
    // Heap bytes held beyond sizeof (see crdt/heap_bytes.hpp): O(1), estimated from container
    // sizes.
    std::size_t heap_bytes() const;

    friend bool operator==(const Hash& a, const Hash& b) {
        return a.fields_ == b.fields_ && a.context_ == b.context_;
    }

    template <class Archive>
    friend void serialize(Archive& archive, Hash& hash);

private:
    static bool present(const Field& field);
    static std::optional<std::string> shown(const Field& field);
    // Removes the writes of `it` (recording their dots in `delta`) and resets its counter into
    // `delta`'s field of the same name.
    void remove_observed(Fields::iterator it, Hash& delta);
    void drop_dot(const Dot& dot);
    void erase_if_bottom(Fields::iterator it);
    void reindex();

    Fields fields_;
    DotContext context_;
    // Which field each write's dot belongs to; points at keys of fields_, whose nodes never
    // move, so the index survives moves but is rebuilt on copy.
    absl::flat_hash_map<Dot, const std::string*> by_dot_;
};

}  // namespace meridian::crdt
