// Reference models of the CRDTs for the simulation (simulation.hpp).
// Each model applies an operation at a replica and says, in the model's own
// terms (unique tags per acknowledged operation, not dots or entries), what
// the returned delta carries; check() compares a replica's CRDT state with the
// model after every change. Test code only, single-threaded.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "crdt/value.hpp"
#include "crdt/wide_int.hpp"
#include "show.hpp"
#include "simulation.hpp"

namespace meridian::test {

using crdt::detail::Int128;

// ---------------------------------------------------------------- PnCounter
//
// An add's delta carries every acknowledged add of its replica so far (the
// entry is that replica's running totals); a reset's delta carries what the
// resetting replica had observed and removes exactly that. The value is the
// sum of the observed adds that no reset observed.
struct PnCounterModel {
    using State = crdt::PnCounter;
    struct Op {
        bool reset = false;
        std::int64_t amount = 0;
    };
    struct Add {
        std::size_t origin = 0;
        std::int64_t amount = 0;
    };
    struct Knowledge {
        std::map<std::uint64_t, Add> observed;  // acknowledged adds, by tag
        std::set<std::uint64_t> removed;        // tags of adds some reset had observed
        void join(const Knowledge& other) {
            observed.insert(other.observed.begin(), other.observed.end());
            removed.insert(other.removed.begin(), other.removed.end());
        }
    };
    struct Local {};

    std::uint64_t next_tag = 0;

    std::optional<Tagged<PnCounterModel>> mutate(Replica<PnCounterModel>& r,
                                                 std::span<const crdt::ReplicaId>, const Op& op) {
        Tagged<PnCounterModel> delta;
        if (op.reset) {
            delta.state = r.view.state.reset();
            delta.knowledge.observed = r.view.knowledge.observed;
            for (const auto& [tag, add] : r.view.knowledge.observed)
                delta.knowledge.removed.insert(tag);
            r.view.knowledge.join(delta.knowledge);
            RC_ASSERT(r.view.state.value() == 0);
            return delta;
        }
        const State before = r.view.state;
        auto result = r.view.state.add(r.id, op.amount);
        if (!result) {
            RC_ASSERT(result.error() == crdt::Error::overflow);
            RC_ASSERT(r.view.state == before);
            return std::nullopt;
        }
        const std::uint64_t tag = next_tag++;
        r.view.knowledge.observed[tag] = Add{r.index, op.amount};
        delta.state = std::move(*result);
        for (const auto& [t, add] : r.view.knowledge.observed)
            if (add.origin == r.index) delta.knowledge.observed.emplace(t, add);
        return delta;
    }

    void check(const Replica<PnCounterModel>& r, std::span<const crdt::ReplicaId>) const {
        Int128 expected = 0;
        bool contributes = false;
        bool nonzero_contribution = false;
        for (const auto& [tag, add] : r.view.knowledge.observed) {
            if (r.view.knowledge.removed.contains(tag)) continue;
            expected += add.amount;
            contributes = true;
            nonzero_contribution |= add.amount != 0;
        }
        RC_ASSERT(r.view.state.value() == crdt::detail::saturate(expected));
        // An unreset add of 0 may leave no trace; any other unreset add must.
        if (nonzero_contribution) RC_ASSERT(r.view.state.has_contributions());
        if (!contributes) RC_ASSERT(!r.view.state.has_contributions());
    }

    void check_converged(const Replica<PnCounterModel>& r) const {
        RC_ASSERT(r.view.knowledge.observed.size() == next_tag);
    }
};

inline std::ostream& operator<<(std::ostream& os, const PnCounterModel::Op& op) {
    if (op.reset) return os << "reset";
    return os << "add " << op.amount;
}

// ---------------------------------------------------------------- sealed PnCounter
//
// A home-routed counter across failovers (crdt/pn_counter.hpp, "Seal"): a replica takes the
// counter over by sealing it at the next epoch. Under a seal the value is the seal's base plus
// the adds of its owner that the sealing replica had not observed; another replica's add is
// refused. Without a seal it is PnCounterModel. The model keeps which adds each seal observed,
// and checks a seal's base against its own sum when the seal is made.
struct SealedCounterModel {
    using State = crdt::PnCounter;
    using Seal = crdt::PnCounter::Seal;
    enum class Kind : std::uint8_t { add, reset, take_over };
    struct Op {
        Kind kind = Kind::add;
        std::int64_t amount = 0;
    };
    using Add = PnCounterModel::Add;
    // PnCounterModel's (`removed` counts only while unsealed), and the seals.
    struct Knowledge : PnCounterModel::Knowledge {
        std::map<Seal, std::set<std::uint64_t>> seals;  // each seal and the adds it observed
        void join(const Knowledge& other) {
            PnCounterModel::Knowledge::join(other);
            seals.insert(other.seals.begin(), other.seals.end());
        }
    };
    struct Local {};

    std::uint64_t next_tag = 0;

    // What `k` says the value is, and whether some add of it is nonzero, or it existed.
    static std::pair<Int128, bool> expected(const Knowledge& k, std::span<const crdt::ReplicaId> ids) {
        Int128 sum = 0;
        bool nonzero = false;
        if (k.seals.empty()) {
            for (const auto& [tag, add] : k.observed) {
                if (k.removed.contains(tag)) continue;
                sum += add.amount;
                nonzero |= add.amount != 0;
            }
            return {sum, nonzero};
        }
        const auto& [seal, seen] = *k.seals.rbegin();
        sum = seal.base;
        nonzero = seal.existed;
        for (const auto& [tag, add] : k.observed) {
            if (ids[add.origin] != seal.owner || seen.contains(tag)) continue;
            sum += add.amount;
            nonzero |= add.amount != 0;
        }
        return {sum, nonzero};
    }

    // The adds of `origin` that `view` holds: what a delta carrying that replica's entry carries.
    static std::map<std::uint64_t, Add> adds_of(const Knowledge& view, std::size_t origin) {
        std::map<std::uint64_t, Add> out;
        for (const auto& [tag, add] : view.observed)
            if (add.origin == origin) out.emplace(tag, add);
        return out;
    }

    std::optional<Tagged<SealedCounterModel>> mutate(Replica<SealedCounterModel>& r,
                                                     std::span<const crdt::ReplicaId> ids,
                                                     const Op& op) {
        Tagged<SealedCounterModel> delta;
        Knowledge& view = r.view.knowledge;
        const Seal* sealed = r.view.state.seal_in_force();
        auto owner_index = [&](crdt::ReplicaId id) {
            return static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
        };
        if (op.kind == Kind::take_over) {
            // A new epoch, or the same one under a new replica id of its owner's region.
            const bool same_epoch = sealed && sealed->owner != r.id && op.amount % 2 == 0;
            const std::uint64_t epoch = (sealed ? sealed->epoch : 0) + (same_epoch ? 0 : 1);
            const auto before = expected(view, ids).first;
            delta.state = r.view.state.seal(r.id, epoch);
            const Seal& made = *r.view.state.seal_in_force();
            RC_ASSERT(made.base == crdt::detail::saturate(before));
            std::set<std::uint64_t> seen;
            for (const auto& [tag, add] : view.observed) seen.insert(tag);
            delta.knowledge.seals.emplace(made, std::move(seen));
            delta.knowledge.observed = adds_of(view, r.index);
            view.join(delta.knowledge);
            return delta;
        }
        if (op.kind == Kind::reset) {
            if (!sealed) {
                delta.state = r.view.state.reset();
                delta.knowledge.observed = view.observed;
                for (const auto& [tag, add] : view.observed) delta.knowledge.removed.insert(tag);
                view.join(delta.knowledge);
                RC_ASSERT(r.view.state.value() == 0);
                return delta;
            }
            const std::size_t owner = owner_index(sealed->owner);
            delta.state = r.view.state.reset();
            std::set<std::uint64_t> seen;
            for (const auto& [tag, add] : view.observed) seen.insert(tag);
            delta.knowledge.seals.emplace(*r.view.state.seal_in_force(), std::move(seen));
            delta.knowledge.observed = adds_of(view, owner);
            view.join(delta.knowledge);
            RC_ASSERT(r.view.state.value() == 0);
            return delta;
        }
        const State before = r.view.state;
        auto result = r.view.state.add(r.id, op.amount);
        if (!result) {
            if (sealed && sealed->owner != r.id) {
                RC_ASSERT(result.error() == crdt::Error::invalid_argument);
            } else {
                RC_ASSERT(result.error() == crdt::Error::overflow);
            }
            RC_ASSERT(r.view.state == before);
            return std::nullopt;
        }
        const bool by_owner = sealed == nullptr || sealed->owner == r.id;
        RC_ASSERT(by_owner);
        const std::uint64_t tag = next_tag++;
        view.observed[tag] = Add{r.index, op.amount};
        delta.state = std::move(*result);
        delta.knowledge.observed = adds_of(view, r.index);
        if (sealed) delta.knowledge.seals.emplace(*sealed, view.seals.at(*sealed));
        return delta;
    }

    void check(const Replica<SealedCounterModel>& r, std::span<const crdt::ReplicaId> ids) const {
        const auto [sum, nonzero] = expected(r.view.knowledge, ids);
        RC_ASSERT(r.view.state.value() == crdt::detail::saturate(sum));
        // An add of 0 may leave no trace; any other counted add (or a seal of an existing
        // counter) must.
        if (nonzero) RC_ASSERT(r.view.state.has_contributions());
        const Seal* sealed = r.view.state.seal_in_force();
        RC_ASSERT((sealed == nullptr) == r.view.knowledge.seals.empty());
        if (sealed) RC_ASSERT(*sealed == r.view.knowledge.seals.rbegin()->first);
    }

    void check_converged(const Replica<SealedCounterModel>& r) const {
        RC_ASSERT(r.view.knowledge.observed.size() == next_tag);
    }
};

inline std::ostream& operator<<(std::ostream& os, const SealedCounterModel::Op& op) {
    switch (op.kind) {
        case SealedCounterModel::Kind::add: return os << "add " << op.amount;
        case SealedCounterModel::Kind::reset: return os << "reset";
        case SealedCounterModel::Kind::take_over: return os << "take over (seal)";
    }
    return os;
}

// ---------------------------------------------------------------- LwwRegister
//
// Every write has a unique (time, writer) stamp; a replica's value is the
// write with the highest stamp among those it has observed. A write stamped by
// the replica's clock (ticked past everything it received) wins locally.
struct LwwModel {
    using State = crdt::LwwRegister<std::string>;
    using Stamp = State::Stamp;
    struct Op {
        std::optional<std::string> value;  // nullopt: delete
        std::uint64_t now_ms = 0;
        bool stale = false;  // stamp with now_ms instead of the replica's clock
    };
    struct Knowledge {
        std::map<Stamp, std::optional<std::string>> writes;  // the writes whose values it holds
        std::set<Stamp> past;  // every write observed: what a write's delta says its writer saw
        void join(const Knowledge& other) {
            writes.insert(other.writes.begin(), other.writes.end());
            past.insert(other.past.begin(), other.past.end());
        }
    };
    struct Local {
        crdt::Hlc clock;
    };

    std::set<Stamp> used;  // every stamp written; a stale write that would reuse one is skipped

    std::optional<Tagged<LwwModel>> mutate(Replica<LwwModel>& r, std::span<const crdt::ReplicaId>,
                                           const Op& op) {
        const crdt::Hlc time = op.stale ? crdt::Hlc::from_parts(op.now_ms, 0)
                                        : crdt::Hlc::tick(r.local.clock, op.now_ms);
        const Stamp stamp{time, r.id};
        const bool fresh = used.insert(stamp).second;
        RC_ASSERT(fresh || op.stale);  // a clock never hands out a stamp twice
        if (!fresh) return std::nullopt;
        r.local.clock = std::max(r.local.clock, time);
        Tagged<LwwModel> delta;
        delta.state = r.view.state.assign(r.id, time, op.value);
        delta.knowledge.writes.emplace(stamp, op.value);
        delta.knowledge.past = r.view.knowledge.past;
        delta.knowledge.past.insert(stamp);
        r.view.knowledge.join(delta.knowledge);
        if (!op.stale) RC_ASSERT(r.view.state.value() == op.value);
        return delta;
    }

    void received(Replica<LwwModel>& r, const Tagged<LwwModel>& delta) const {
        if (delta.state.written())
            r.local.clock = crdt::Hlc::receive(r.local.clock, delta.state.stamp().time,
                                               r.local.clock.physical_ms());
    }

    void check(const Replica<LwwModel>& r, std::span<const crdt::ReplicaId>) const {
        const auto& writes = r.view.knowledge.writes;
        if (writes.empty()) {
            RC_ASSERT(!r.view.state.written());
            RC_ASSERT(!r.view.state.value());
            return;
        }
        const auto& [stamp, value] = *writes.rbegin();
        RC_ASSERT(r.view.state.written());
        RC_ASSERT(r.view.state.stamp() == stamp);
        RC_ASSERT(r.view.state.value() == value);
        // It keeps the latest observed write of every other replica, and nothing else.
        std::map<crdt::ReplicaId, crdt::Hlc> latest;
        for (const Stamp& s : r.view.knowledge.past)
            latest[s.writer] = std::max(latest[s.writer], s.time);
        if (latest[stamp.writer] <= stamp.time) latest.erase(stamp.writer);  // implied
        const auto seen = r.view.state.seen();
        RC_ASSERT(seen.size() == latest.size());
        for (const crdt::SeenWrite& s : seen) RC_ASSERT(latest[s.replica] == s.time);
    }
};

inline std::ostream& operator<<(std::ostream& os, const LwwModel::Op& op) {
    os << (op.value ? "set \"" + *op.value + "\"" : std::string("delete")) << " at " << op.now_ms;
    return os << (op.stale ? " (stale clock)" : "");
}

// ---------------------------------------------------------------- OrSet
//
// Every add gets a unique tag; an add survives unless a remove (or clear, or
// re-add of the same element) at a replica that had seen that add removed it.
// The members are the elements of the observed, unremoved adds.
struct OrSetModel {
    using State = crdt::OrSet<std::string>;
    struct Op {
        enum class Kind : std::uint8_t { add, remove, clear };
        Kind kind = Kind::add;
        std::string element;
    };
    struct Knowledge {
        std::map<std::uint64_t, std::string> observed;  // add tag -> element
        std::set<std::uint64_t> removed;

        void join(const Knowledge& other) {
            observed.insert(other.observed.begin(), other.observed.end());
            removed.insert(other.removed.begin(), other.removed.end());
        }
        // The observed, unremoved adds (of `element`, or of any element).
        Knowledge alive(const std::string* element) const {
            Knowledge out;
            for (const auto& [tag, e] : observed)
                if (!removed.contains(tag) && (!element || e == *element))
                    out.observed.emplace(tag, e);
            return out;
        }
    };
    struct Local {};

    std::uint64_t next_tag = 0;

    std::optional<Tagged<OrSetModel>> mutate(Replica<OrSetModel>& r,
                                             std::span<const crdt::ReplicaId>, const Op& op) {
        Tagged<OrSetModel> delta;
        const std::string* only = op.kind == Op::Kind::clear ? nullptr : &op.element;
        delta.knowledge = r.view.knowledge.alive(only);
        for (const auto& [tag, e] : delta.knowledge.observed) delta.knowledge.removed.insert(tag);
        switch (op.kind) {
            case Op::Kind::add:
                delta.state = r.view.state.add(r.id, op.element);
                delta.knowledge.observed.emplace(next_tag++, op.element);
                break;
            case Op::Kind::remove:
                delta.state = r.view.state.remove(op.element);
                break;
            case Op::Kind::clear:
                delta.state = r.view.state.clear();
                break;
        }
        r.view.knowledge.join(delta.knowledge);
        return delta;
    }

    void check(const Replica<OrSetModel>& r, std::span<const crdt::ReplicaId>) const {
        const auto& k = r.view.knowledge;
        const Knowledge alive = k.alive(nullptr);
        std::set<std::string> members;
        for (const auto& [tag, e] : alive.observed) members.insert(e);
        const auto value = r.view.state.value();
        RC_ASSERT(std::set<std::string>(value.begin(), value.end()) == members);
        RC_ASSERT(value.size() == members.size());
        // One dot per add: seen adds are the context, live adds the dots held.
        std::size_t held = 0;
        for (const auto& [element, dots] : r.view.state.entries()) held += dots.size();
        RC_ASSERT(held == alive.observed.size());
        RC_ASSERT(r.view.state.context().dot_count() == k.observed.size());
    }
};

inline std::ostream& operator<<(std::ostream& os, const OrSetModel::Op& op) {
    switch (op.kind) {
        case OrSetModel::Op::Kind::add:
            return os << "add " << op.element;
        case OrSetModel::Op::Kind::remove:
            return os << "remove " << op.element;
        case OrSetModel::Op::Kind::clear:
            return os << "clear";
    }
    return os;
}

// ---------------------------------------------------------------- Hash
//
// Every HSET and HINCRBY gets a unique tag. An HSET of a field, an HDEL of it
// or a clear removes the field's writes and increments its replica had
// observed (an increment's delta carries every earlier increment of its
// replica on that field: the counter entry is a running total). A field shows
// its unremoved write with the highest (HLC, writer), plus the sum of its
// unremoved increments when that write is an integer or absent.
struct HashModel {
    using State = crdt::Hash;
    using Stamp = crdt::WriteStamp;
    struct Op {
        enum class Kind : std::uint8_t { set, increment, remove, clear };
        Kind kind = Kind::set;
        std::string field;
        std::string value;        // set
        std::int64_t amount = 0;  // increment
        std::uint64_t now_ms = 0;
    };
    struct Write {
        std::string field;
        Stamp stamp;
        std::string value;
        friend auto operator<=>(const Write&, const Write&) = default;
    };
    struct Increment {
        std::string field;
        std::size_t origin = 0;
        std::int64_t amount = 0;
        friend auto operator<=>(const Increment&, const Increment&) = default;
    };
    struct Knowledge {
        std::map<std::uint64_t, Write> writes;          // observed HSETs, by tag
        std::map<std::uint64_t, Increment> increments;  // observed HINCRBYs, by tag
        std::set<std::uint64_t> removed;                // tags some HSET, HDEL or clear removed
        void join(const Knowledge& other) {
            writes.insert(other.writes.begin(), other.writes.end());
            increments.insert(other.increments.begin(), other.increments.end());
            removed.insert(other.removed.begin(), other.removed.end());
        }
    };
    struct Local {
        crdt::Hlc clock;
    };

    std::uint64_t next_tag = 0;

    std::optional<Tagged<HashModel>> mutate(Replica<HashModel>& r, std::span<const crdt::ReplicaId>,
                                            const Op& op) {
        Knowledge& k = r.view.knowledge;
        Tagged<HashModel> delta;
        if (op.kind == Op::Kind::increment) {
            const State before = r.view.state;
            auto result = r.view.state.increment(r.id, op.field, op.amount);
            if (!result) {
                RC_ASSERT(result.error() == crdt::Error::overflow);
                RC_ASSERT(r.view.state == before);
                return std::nullopt;
            }
            k.increments[next_tag++] = Increment{op.field, r.index, op.amount};
            delta.state = std::move(*result);
            // The entry is a running total: it carries every earlier increment of this replica on
            // the field, and not the resets of them (those travel as baselines).
            for (const auto& [tag, inc] : k.increments)
                if (inc.origin == r.index && inc.field == op.field) delta.knowledge.increments.emplace(tag, inc);
            return delta;
        }
        // HSET, HDEL and clear remove what was observed of their field (clear: of every field).
        const auto touches = [&](const std::string& field) {
            return op.kind == Op::Kind::clear || field == op.field;
        };
        for (const auto& [tag, w] : k.writes) {
            if (!touches(w.field) || k.removed.contains(tag)) continue;
            delta.knowledge.removed.insert(tag);
            delta.knowledge.writes.emplace(tag, w);  // its dot is in the delta's context
        }
        for (const auto& [tag, inc] : k.increments)
            if (touches(inc.field)) {
                delta.knowledge.removed.insert(tag);
                delta.knowledge.increments.emplace(tag, inc);  // a reset carries the entries it saw
            }
        switch (op.kind) {
            case Op::Kind::set: {
                r.local.clock = crdt::Hlc::tick(r.local.clock, op.now_ms);
                delta.state = r.view.state.set(r.id, r.local.clock, op.field, op.value);
                delta.knowledge.writes.emplace(next_tag++, Write{op.field, {r.local.clock, r.id}, op.value});
                break;
            }
            case Op::Kind::remove: delta.state = r.view.state.remove(op.field); break;
            case Op::Kind::clear: delta.state = r.view.state.clear(); break;
            case Op::Kind::increment: break;
        }
        k.join(delta.knowledge);
        return delta;
    }

    void received(Replica<HashModel>& r, const Tagged<HashModel>& delta) const {
        for (const auto& [tag, w] : delta.knowledge.writes)
            r.local.clock = crdt::Hlc::receive(r.local.clock, w.stamp.time, r.local.clock.physical_ms());
    }

    void check(const Replica<HashModel>& r, std::span<const crdt::ReplicaId>) const {
        const Knowledge& k = r.view.knowledge;
        struct Shown {
            std::optional<Write> top;
            Int128 sum = 0;
            bool incremented = false;
        };
        std::map<std::string, Shown> fields;
        std::size_t live_writes = 0;
        for (const auto& [tag, w] : k.writes) {
            if (k.removed.contains(tag)) continue;
            ++live_writes;
            auto& shown = fields[w.field];
            if (!shown.top || shown.top->stamp < w.stamp) shown.top = w;
        }
        for (const auto& [tag, inc] : k.increments) {
            if (k.removed.contains(tag)) continue;
            fields[inc.field].sum += inc.amount;
            fields[inc.field].incremented = true;
        }
        std::vector<std::pair<std::string, std::string>> expected;
        for (const auto& [field, shown] : fields) {
            std::string value;
            if (!shown.incremented) {
                value = shown.top->value;
            } else {
                const auto base = shown.top ? crdt::canonical_int(shown.top->value) : std::optional<std::int64_t>(0);
                value = base ? std::to_string(crdt::detail::saturate(shown.sum + *base)) : shown.top->value;
            }
            expected.emplace_back(field, value);
            RC_ASSERT(r.view.state.value_of(field) == std::optional(value));
        }
        RC_ASSERT(r.view.state.items() == expected);
        RC_ASSERT(r.view.state.size() == expected.size());
        // One dot per HSET: seen HSETs are the context, live ones the dots held.
        std::size_t held = 0;
        for (const auto& [field, f] : r.view.state.fields()) held += f.writes.size();
        RC_ASSERT(held == live_writes);
        RC_ASSERT(r.view.state.context().dot_count() == k.writes.size());
    }
};

inline std::ostream& operator<<(std::ostream& os, const HashModel::Op& op) {
    switch (op.kind) {
        case HashModel::Op::Kind::set: return os << "hset " << op.field << " \"" << op.value << "\" at " << op.now_ms;
        case HashModel::Op::Kind::increment: return os << "hincrby " << op.field << " " << op.amount;
        case HashModel::Op::Kind::remove: return os << "hdel " << op.field;
        case HashModel::Op::Kind::clear: return os << "del";
    }
    return os;
}

// ---------------------------------------------------------------- BoundedCounter
//
// No view, at any replica after any join, may go below the floor, nor show any
// replica holding negative rights; rights always add up to value - floor.
// When every delta has arrived, the value is exactly the acknowledged
// increments minus the acknowledged decrements.
struct BoundedCounterModel {
    using State = crdt::BoundedCounter;
    struct Op {
        enum class Kind : std::uint8_t { increment, decrement, transfer };
        Kind kind = Kind::increment;
        std::uint64_t amount = 0;
        bool all_rights = false;  // decrement, transfer: the amount is every right held
        std::size_t to = 0;       // transfer: the receiving replica (may be oneself)
    };
    struct Knowledge {
        void join(const Knowledge&) {}
    };
    struct Local {};

    std::int64_t min = 0;
    std::size_t holder_index = 0;  // reduced modulo the replica count at start
    crdt::BoundedCounter::Floor floor;
    Int128 acknowledged = 0;

    void start(std::span<const crdt::ReplicaId> ids) {
        floor = {min, ids[holder_index % ids.size()]};
    }

    std::optional<Tagged<BoundedCounterModel>> mutate(Replica<BoundedCounterModel>& r,
                                                      std::span<const crdt::ReplicaId> ids,
                                                      const Op& op) {
        State& s = r.view.state;
        const State before = s;
        const Int128 rights_before = s.rights(r.id, floor);
        const crdt::ReplicaId to = ids[op.to % ids.size()];
        const std::uint64_t amount =
            op.all_rights && op.kind != Op::Kind::increment
                ? static_cast<std::uint64_t>(std::max<Int128>(rights_before, 0))
                : op.amount;
        auto result = [&] {
            switch (op.kind) {
                case Op::Kind::increment:
                    return s.increment(r.id, amount);
                case Op::Kind::decrement:
                    return s.decrement(r.id, amount, floor);
                case Op::Kind::transfer:
                    return s.transfer(r.id, to, amount, floor);
            }
            return Expected<State, crdt::Error>(unexpected(crdt::Error::invalid_argument));
        }();
        if (!result) {
            RC_ASSERT(s == before);
            if (op.kind == Op::Kind::transfer && to == r.id)
                RC_ASSERT(result.error() == crdt::Error::invalid_argument);
            else if (op.kind != Op::Kind::increment)
                RC_ASSERT(result.error() == crdt::Error::insufficient_rights);
            if (result.error() == crdt::Error::insufficient_rights)
                RC_ASSERT(rights_before < Int128(amount));
            return std::nullopt;
        }
        RC_ASSERT(!(op.kind == Op::Kind::transfer && to == r.id));
        switch (op.kind) {
            case Op::Kind::increment:
                acknowledged += amount;
                RC_ASSERT(Int128(s.value()) == Int128(before.value()) + amount);
                break;
            case Op::Kind::decrement:
                RC_ASSERT(rights_before >= Int128(amount));
                acknowledged -= amount;
                RC_ASSERT(Int128(s.value()) == Int128(before.value()) - amount);
                RC_ASSERT(Int128(s.rights(r.id, floor)) == rights_before - amount);
                break;
            case Op::Kind::transfer:
                RC_ASSERT(s.value() == before.value());
                RC_ASSERT(Int128(s.rights(r.id, floor)) == rights_before - amount);
                RC_ASSERT(Int128(s.rights(to, floor)) == Int128(before.rights(to, floor)) + amount);
                break;
        }
        return Tagged<BoundedCounterModel>{std::move(*result), {}};
    }

    void check(const Replica<BoundedCounterModel>& r, std::span<const crdt::ReplicaId> ids) const {
        const State& s = r.view.state;
        RC_ASSERT(s.value() >= floor.min);
        Int128 rights = 0;
        for (const auto id : ids) {
            RC_ASSERT(s.rights(id, floor) >= 0);
            rights += s.rights(id, floor);
        }
        RC_ASSERT(rights == Int128(s.value()) - floor.min);
    }

    void check_converged(const Replica<BoundedCounterModel>& r) const {
        RC_ASSERT(Int128(r.view.state.value()) == acknowledged);
    }
};

inline std::ostream& operator<<(std::ostream& os, const BoundedCounterModel::Op& op) {
    switch (op.kind) {
        case BoundedCounterModel::Op::Kind::increment:
            return os << "increment " << op.amount;
        case BoundedCounterModel::Op::Kind::decrement:
            return os << "decrement "
                      << (op.all_rights ? "all its rights" : std::to_string(op.amount));
        case BoundedCounterModel::Op::Kind::transfer:
            return os << "transfer "
                      << (op.all_rights ? "all its rights" : std::to_string(op.amount)) << " to r"
                      << op.to;
    }
    return os;
}

inline std::ostream& operator<<(std::ostream& os, const BoundedCounterModel& m) {
    return os << "floor " << m.min << " held by r" << m.holder_index;
}

// ---------------------------------------------------------------- expiring lww value
//
// An lww key with its TTL (crdt::Value, crdt::Expiry): register writes and TTL
// writes are each ordered by their unique (time, writer) stamps. The value is the
// highest register write; the deadline is the highest TTL write's, unless it is
// "never" or a register write stamped after it replaced the value (SET without
// KEEPTTL clears the TTL). KEEPTTL and SET ... EX write both under one stamp.
struct ExpiringLww {
    crdt::Value value;
    void join(const ExpiringLww& other) { RC_ASSERT(value.join(other.value).has_value()); }
    friend bool operator==(const ExpiringLww&, const ExpiringLww&) = default;
};

inline std::ostream& operator<<(std::ostream& os, const ExpiringLww& s) {
    os << *s.value.as<crdt::Register>();
    if (const crdt::Expiry* ttl = s.value.expiry()) {
        os << " ttl " << (ttl->value() ? std::to_string(*ttl->value()) : std::string("never")) << " @"
           << ttl->stamp().time << "/" << ttl->stamp().writer;
    }
    return os;
}

struct ExpiringLwwModel {
    using State = ExpiringLww;
    using Stamp = crdt::WriteStamp;
    struct Op {
        enum class Kind : std::uint8_t { set, set_keep_ttl, set_expiring, remove, expire, persist };
        Kind kind = Kind::set;
        std::string value;
        std::uint64_t deadline = 0;
        std::uint64_t now_ms = 0;
    };
    struct Knowledge {
        std::map<Stamp, std::optional<std::string>> writes;
        std::map<Stamp, std::optional<std::uint64_t>> ttls;
        void join(const Knowledge& other) {
            writes.insert(other.writes.begin(), other.writes.end());
            ttls.insert(other.ttls.begin(), other.ttls.end());
        }
    };
    struct Local {
        crdt::Hlc clock;
    };

    std::optional<Tagged<ExpiringLwwModel>> mutate(Replica<ExpiringLwwModel>& r,
                                                   std::span<const crdt::ReplicaId>, const Op& op) {
        using Kind = Op::Kind;
        const crdt::Hlc time = crdt::Hlc::tick(r.local.clock, op.now_ms);
        r.local.clock = time;
        const Stamp stamp{time, r.id};
        crdt::Value& state = r.view.state.value;
        Tagged<ExpiringLwwModel> delta;
        auto write_value = [&](std::optional<std::string> v) {
            RC_ASSERT(delta.state.value.join(crdt::Value(state.as<crdt::Register>()->assign(r.id, time, v))).has_value());
            delta.knowledge.writes.emplace(stamp, std::move(v));
        };
        auto write_ttl = [&](std::optional<std::uint64_t> deadline) {
            RC_ASSERT(delta.state.value.join(state.expire(r.id, time, deadline)).has_value());
            delta.knowledge.ttls.emplace(stamp, deadline);
        };
        switch (op.kind) {
            case Kind::set: write_value(op.value); break;
            case Kind::set_keep_ttl: {
                const auto kept = state.deadline();
                write_value(op.value);
                if (kept) write_ttl(kept);
                RC_ASSERT(state.deadline() == kept);
                break;
            }
            case Kind::set_expiring:
                write_value(op.value);
                write_ttl(op.deadline);
                break;
            case Kind::remove: write_value(std::nullopt); break;
            case Kind::expire: write_ttl(op.deadline); break;
            case Kind::persist: write_ttl(std::nullopt); break;
        }
        r.view.knowledge.join(delta.knowledge);
        return delta;
    }

    void received(Replica<ExpiringLwwModel>& r, const Tagged<ExpiringLwwModel>& delta) const {
        const crdt::Value& v = delta.state.value;
        if (const auto* reg = v.as<crdt::Register>(); reg && reg->written())
            r.local.clock = crdt::Hlc::receive(r.local.clock, reg->stamp().time, r.local.clock.physical_ms());
        if (const crdt::Expiry* ttl = v.expiry())
            r.local.clock = crdt::Hlc::receive(r.local.clock, ttl->stamp().time, r.local.clock.physical_ms());
    }

    void check(const Replica<ExpiringLwwModel>& r, std::span<const crdt::ReplicaId>) const {
        const crdt::Value& state = r.view.state.value;
        const auto& writes = r.view.knowledge.writes;
        const auto& ttls = r.view.knowledge.ttls;
        const auto* reg = state.as<crdt::Register>();
        RC_ASSERT(reg != nullptr);
        RC_ASSERT(reg->written() == !writes.empty());
        if (!writes.empty()) {
            RC_ASSERT(reg->stamp() == writes.rbegin()->first);
            RC_ASSERT(reg->value() == writes.rbegin()->second);
        }
        RC_ASSERT((state.expiry() != nullptr) == !ttls.empty());
        std::optional<std::uint64_t> deadline;
        if (!ttls.empty()) {
            const auto& [stamp, written] = *ttls.rbegin();
            RC_ASSERT(state.expiry()->stamp() == stamp);
            const bool replaced = !writes.empty() && stamp < writes.rbegin()->first;
            if (!replaced) deadline = written;
        }
        RC_ASSERT(state.deadline() == deadline);
    }
};

inline std::ostream& operator<<(std::ostream& os, const ExpiringLwwModel::Op& op) {
    using Kind = ExpiringLwwModel::Op::Kind;
    switch (op.kind) {
        case Kind::set: os << "set \"" << op.value << "\""; break;
        case Kind::set_keep_ttl: os << "set \"" << op.value << "\" keepttl"; break;
        case Kind::set_expiring: os << "set \"" << op.value << "\" pxat " << op.deadline; break;
        case Kind::remove: os << "del"; break;
        case Kind::expire: os << "pexpireat " << op.deadline; break;
        case Kind::persist: os << "persist"; break;
    }
    return os << " at " << op.now_ms;
}

}  // namespace meridian::test
