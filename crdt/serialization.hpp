// cereal serialization of the CRDT types, kept apart so the types stay
// readable. Loading validates what the types rely on (sorted, unique entries)
// and throws DecodeError otherwise; encode()/decode() use the compact archive
// and turn any decoding failure into an error value.
#pragma once

#include <algorithm>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <string>
#include <string_view>

#include "crdt/compact_archive.hpp"
#include "crdt/expected.hpp"
#include "crdt/value.hpp"

namespace meridian::crdt {

namespace detail {

template <class Range, class Key>
void require_strictly_sorted(const Range& range, Key key, const char* what) {
    auto it = std::adjacent_find(range.begin(), range.end(),
                                 [&](const auto& a, const auto& b) { return !(key(a) < key(b)); });
    if (it != range.end()) throw DecodeError(std::string(what) + " not sorted or has duplicates");
}

}  // namespace detail

template <class Archive>
void serialize(Archive& ar, ReplicaId& r) {
    ar(r.region, r.epoch);
}

template <class Archive>
void serialize(Archive& ar, Dot& d) {
    ar(d.replica, d.seq);
}

// A varint of the packed clock, or its difference from the clock before it where the archive
// chains clocks (a Records frame's payload).
template <class Archive>
void save(Archive& ar, const Hlc& h) {
    ar.write_clock(h.packed());
}

template <class Archive>
void load(Archive& ar, Hlc& h) {
    h = Hlc::from_packed(ar.read_clock());
}

template <class Archive>
void serialize(Archive& ar, VersionVector::Entry& e) {
    ar(e.replica, e.seq);
}

template <class Archive>
void serialize(Archive& ar, VersionVector& vv) {
    ar(vv.entries_);
    if constexpr (Archive::is_loading::value) {
        detail::require_strictly_sorted(vv.entries_, [](const auto& e) { return e.replica; },
                                        "version vector");
        if (std::any_of(vv.entries_.begin(), vv.entries_.end(), [](auto& e) { return e.seq == 0; }))
            throw DecodeError("version vector holds a zero entry");
    }
}

template <class Archive>
void serialize(Archive& ar, DotContext& c) {
    ar(c.prefix_, c.cloud_);
    if constexpr (Archive::is_loading::value) c.compact();
}

template <class Archive>
void serialize(Archive& ar, SeenWrite& s) {
    ar(s.replica, s.time);
}

// A register: a tag byte (0: never written; 1: written; 2: written, and observed writes of other
// replicas follow), then the stamp and the value as a std::optional's bytes. Tags 0 and 1 are the
// bytes of the bool that led registers before observed writes were kept, so older WALs load.
template <class Archive, class U>
void serialize(Archive& ar, LwwRegister<U>& reg) {
    enum : std::uint8_t { kBottom = 0, kWritten = 1, kWrittenWithSeen = 2 };
    std::uint8_t tag = !reg.written_ ? kBottom : reg.seen_.get() ? kWrittenWithSeen : kWritten;
    ar(tag);
    if constexpr (Archive::is_loading::value) {
        if (tag > kWrittenWithSeen) throw DecodeError("register tag out of range");
        reg = LwwRegister<U>{};
        reg.written_ = tag != kBottom;
    }
    if (!reg.written_) return;
    bool absent = !reg.present_;
    ar(reg.time_, reg.writer_, absent);
    reg.present_ = !absent;
    if (reg.present_) ar(reg.value_);
    if (tag != kWrittenWithSeen) return;
    ar(reg.seen_.emplace());
    if constexpr (Archive::is_loading::value) {
        const auto& seen = *reg.seen_.get();
        detail::require_strictly_sorted(
            seen, [](const SeenWrite& s) { return s.replica; }, "register's observed writes");
        if (seen.empty()) throw DecodeError("register's observed writes are empty");
        for (const SeenWrite& s : seen)
            if (s.replica == reg.writer_ && s.time <= reg.time_)
                throw DecodeError("register's observed writes hold one its winner implies");
    }
}

// The same bytes as a std::vector<T>: cereal's size tag, then each element.
template <class Archive, class T>
void save(Archive& ar, const SmallVector<T>& v) {
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(v.size())));
    for (const T& e : v) ar(e);
}

template <class Archive, class T>
void load(Archive& ar, SmallVector<T>& v) {
    cereal::size_type n = 0;
    ar(cereal::make_size_tag(n));
    v.resize(static_cast<std::size_t>(n));
    for (T& e : v) ar(e);
}

template <class Archive>
void serialize(Archive& ar, PnCounter::Entry& e) {
    ar(e.replica, e.increments, e.decrements);
}

// Entries, then baselines; a seal follows the whole value (Value::save), so that counters
// without one keep their bytes.
template <class Archive>
void save(Archive& ar, const PnCounter& c) {
    ar(c.entries_);
    const auto bases = c.baselines();
    ar(cereal::make_size_tag(static_cast<cereal::size_type>(bases.size())));
    for (const PnCounter::Entry& e : bases) ar(e);
}

template <class Archive>
void load(Archive& ar, PnCounter& c) {
    std::vector<PnCounter::Entry> bases;
    ar(c.entries_, bases);
    auto by_replica = [](const auto& e) { return e.replica; };
    detail::require_strictly_sorted(c.entries_, by_replica, "counter entries");
    detail::require_strictly_sorted(bases, by_replica, "counter baselines");
    if (!bases.empty()) c.tail_.emplace().baselines = std::move(bases);
}

template <class Archive>
void serialize(Archive& ar, PnCounter::Seal& s) {
    ar(s.epoch, s.generation, s.owner, s.base, s.existed, s.increments, s.decrements);
    if constexpr (Archive::is_loading::value) {
        if (s.epoch == 0 || s.generation == 0) throw DecodeError("counter seal of epoch or generation 0");
    }
}

// The entries are encoded as the std::map<U, Dots> they once were: a size tag, then key and
// dots per member in key order.
template <class Archive, class U>
void serialize(Archive& ar, OrSet<U>& set) {
    using Dots = typename OrSet<U>::Dots;
    if constexpr (Archive::is_saving::value) {
        const auto sorted = set.sorted_entries();
        ar(cereal::make_size_tag(static_cast<cereal::size_type>(sorted.size())));
        for (const auto* entry : sorted) {
            // cereal's map item wants references it may write through when loading.
            auto& key = const_cast<U&>(entry->first);
            auto& dots = const_cast<Dots&>(entry->second);
            ar(cereal::make_map_item(key, dots));
        }
        ar(set.context_);
    } else {
        cereal::size_type size = 0;
        ar(cereal::make_size_tag(size));  // at most the input's remaining bytes
        set.entries_.clear();
        set.entries_.reserve(static_cast<std::size_t>(size));
        for (cereal::size_type i = 0; i < size; ++i) {
            U key;
            Dots dots;
            ar(cereal::make_map_item(key, dots));
            set.entries_.try_emplace(std::move(key), std::move(dots));  // as std::map: first wins
        }
        ar(set.context_);
        for (auto& [element, dots] : set.entries_) {
            if (dots.empty()) throw DecodeError("set element without a dot");
            detail::require_strictly_sorted(dots, [](const Dot& d) { return d; }, "element dots");
            for (const Dot& d : dots)
                if (!set.context_.contains(d)) throw DecodeError("set dot outside its context");
        }
        set.reindex();
        if (set.by_dot_.size() != [&] {
                std::size_t n = 0;
                for (auto& [element, dots] : set.entries_) n += dots.size();
                return n;
            }())
            throw DecodeError("a dot supports two set elements");
    }
}

template <class Archive>
void serialize(Archive& ar, BoundedCounter::Entry& e) {
    ar(e.replica, e.increments, e.decrements);
}

template <class Archive>
void serialize(Archive& ar, BoundedCounter::Transfer& t) {
    ar(t.from, t.to, t.amount);
}

template <class Archive>
void serialize(Archive& ar, BoundedCounter& c) {
    ar(c.entries_, c.transfers_);
    if constexpr (Archive::is_loading::value) {
        detail::require_strictly_sorted(c.entries_, [](const auto& e) { return e.replica; },
                                        "bounded counter entries");
        detail::require_strictly_sorted(
            c.transfers_, [](const auto& t) { return std::pair(t.from, t.to); }, "transfers");
    }
}

template <class Archive>
void serialize(Archive& ar, BoundedCounter::Handover& h) {
    ar(h.retired, h.heir, h.increments, h.decrements, h.transfers);
    if constexpr (Archive::is_loading::value) {
        if (h.retired == h.heir)
            throw DecodeError("a bounded counter replica handed over to itself");
        for (const auto& t : h.transfers)
            if (t.from != h.retired)
                throw DecodeError("a handover freezes another replica's transfer");
        detail::require_strictly_sorted(
            h.transfers, [](const auto& t) { return t.to; }, "handed-over transfers");
    }
}

template <class Archive>
void serialize(Archive& ar, Hash::Write& w) {
    ar(w.dot, w.time, w.value);
}

template <class Archive>
void serialize(Archive& ar, Hash::Field& f) {
    ar(f.writes, f.counter);
}

// Fields in name order: a size tag, then name and field for each.
template <class Archive>
void serialize(Archive& ar, Hash& hash) {
    if constexpr (Archive::is_saving::value) {
        std::vector<const Hash::Fields::value_type*> sorted;
        sorted.reserve(hash.fields_.size());
        for (const auto& entry : hash.fields_) sorted.push_back(&entry);
        std::sort(sorted.begin(), sorted.end(),
                  [](auto* a, auto* b) { return a->first < b->first; });
        ar(cereal::make_size_tag(static_cast<cereal::size_type>(sorted.size())));
        for (const auto* entry : sorted) ar(entry->first, entry->second);
        ar(hash.context_);
    } else {
        cereal::size_type size = 0;
        ar(cereal::make_size_tag(size));  // at most the input's remaining bytes
        hash.fields_.clear();
        hash.fields_.reserve(static_cast<std::size_t>(size));
        std::size_t writes = 0;
        for (cereal::size_type i = 0; i < size; ++i) {
            std::string name;
            Hash::Field field;
            ar(name, field);
            if (field.writes.empty() && field.counter == PnCounter{})
                throw DecodeError("hash field without state");
            detail::require_strictly_sorted(
                field.writes, [](const Hash::Write& w) { return w.dot; }, "hash field writes");
            writes += field.writes.size();
            if (!hash.fields_.try_emplace(std::move(name), std::move(field)).second)
                throw DecodeError("hash field twice");
        }
        ar(hash.context_);
        for (const auto& [name, field] : hash.fields_)
            for (const Hash::Write& w : field.writes)
                if (!hash.context_.contains(w.dot))
                    throw DecodeError("hash dot outside its context");
        hash.reindex();
        if (hash.by_dot_.size() != writes) throw DecodeError("a dot supports two hash writes");
    }
}

template <class Archive, class T>
void save(Archive& ar, const Boxed<T>& box) {
    ar(*box);
}

template <class Archive, class T>
void load(Archive& ar, Boxed<T>& box) {
    ar(*box);
}

// The type's index as cereal encodes a std::variant's (an int32), plus kValueHasExpiry when the
// TTL register follows the state, kValueHasSeal when a counter's seal does and
// kValueHasHandovers when a bounded counter's handovers do (before the TTL): values encoded
// before keys had TTLs, counters seals or bounded counters handovers decode unchanged, and
// encode to the same bytes.
inline constexpr std::int32_t kValueHasExpiry = 16;
inline constexpr std::int32_t kValueHasSeal = 32;
inline constexpr std::int32_t kValueHasHandovers = 64;

template <class Archive>
void Value::save(Archive& ar) const {
    const Expiry* ttl = expiry_.get();
    const auto* counter = std::get_if<PnCounter>(&state_);
    const PnCounter::Seal* seal = counter ? counter->seal_in_force() : nullptr;
    const auto* bounded = std::get_if<BoundedCounter>(&state_);
    const bool handovers = bounded && !bounded->handovers().empty();
    ar(static_cast<std::int32_t>(state_.index()) + (ttl ? kValueHasExpiry : 0) +
       (seal ? kValueHasSeal : 0) + (handovers ? kValueHasHandovers : 0));
    std::visit([&](const auto& state) { ar(state); }, state_);
    if (seal) ar(*seal);
    if (handovers) ar(bounded->handovers());
    if (ttl) ar(*ttl);
}

template <class Archive>
void Value::load(Archive& ar) {
    std::int32_t tag = 0;
    ar(tag);
    const bool has_handovers = tag >= 0 && (tag & kValueHasHandovers) != 0;
    const bool has_seal = tag >= 0 && (tag & kValueHasSeal) != 0;
    const bool has_expiry = tag >= 0 && (tag & kValueHasExpiry) != 0;
    const std::int32_t index = tag - (has_handovers ? kValueHasHandovers : 0) -
                               (has_seal ? kValueHasSeal : 0) - (has_expiry ? kValueHasExpiry : 0);
    if (index < 0 || index >= static_cast<std::int32_t>(std::variant_size_v<State>))
        throw DecodeError("unknown value type " + std::to_string(tag));
    *this = empty(static_cast<ValueType>(index));
    std::visit([&](auto& state) { ar(state); }, state_);
    if (has_seal) {
        auto* counter = std::get_if<PnCounter>(&state_);
        if (!counter) throw DecodeError("a seal on a value that is not a counter");
        PnCounter::Seal seal;
        ar(seal);
        counter->set_seal(seal);
    }
    if (has_handovers) {
        auto* bounded = std::get_if<BoundedCounter>(&state_);
        if (!bounded) throw DecodeError("handovers on a value that is not a bounded counter");
        std::vector<BoundedCounter::Handover> handovers;
        ar(handovers);
        if (handovers.empty()) throw DecodeError("an empty list of handovers");
        detail::require_strictly_sorted(
            handovers, [](const auto& h) { return h.retired; }, "handovers");
        bounded->set_handovers(std::move(handovers));
    }
    if (has_expiry) {
        Expiry& ttl = expiry_.emplace();
        ar(ttl);
        if (!ttl.written()) throw DecodeError("a value's TTL is not written");
    }
}

// Encodes `value` with the compact archive, appending to `out`.
template <class T>
void encode_to(std::string& out, const T& value) {
    CompactOutputArchive ar(out);
    ar(value);
}

template <class T>
std::string encode(const T& value) {
    std::string out;
    encode_to(out, value);
    return out;
}

// How an encoding wrote its clocks: each whole (the WAL, snapshots, states), or each as the
// difference from the one before it (a Records frame; CompactOutputArchive::chain_clocks).
enum class Clocks { whole, chained };

// Decodes a whole buffer; trailing bytes are an error.
template <class T>
Expected<T, std::string> decode(std::string_view bytes, Clocks clocks = Clocks::whole) {
    try {
        CompactInputArchive ar(bytes);
        if (clocks == Clocks::chained) ar.chain_clocks();
        T value;
        ar(value);
        if (ar.remaining() != 0) return unexpected(std::string("trailing bytes after value"));
        return value;
    } catch (const cereal::Exception& e) {
        return unexpected(std::string(e.what()));
    } catch (const std::length_error& e) {
        return unexpected(std::string(e.what()));
    }
}

}  // namespace meridian::crdt
