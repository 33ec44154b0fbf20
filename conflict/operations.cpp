#include "conflict/operations.hpp"

#include <algorithm>
#include <optional>

#include "crdt/wide_int.hpp"

namespace meridian::conflict {

namespace {

// Folds one delta per member into the command's delta. The first is moved in rather than joined
// into an empty set: most SADDs and SREMs name one member, and that join was a tenth of a
// replicated SADD's time.
void fold_into(crdt::StringSet& delta, bool& first, crdt::StringSet&& next) {
    if (first) {
        delta = std::move(next);
        first = false;
    } else {
        delta.join(next);
    }
}

Refusal refusal_of(crdt::Error error) {
    switch (error) {
        case crdt::Error::overflow: return Refusal::overflow;
        case crdt::Error::insufficient_rights: return Refusal::insufficient_rights;
        case crdt::Error::type_mismatch: return Refusal::wrong_type;
        case crdt::Error::invalid_argument: return Refusal::not_supported;
        case crdt::Error::retired:
            return Refusal::retired;
    }
    return Refusal::not_supported;
}

// A home-routed counter with a floor, about to be written by the owner of its home at
// `writer.home_epoch`: seals it if that epoch is newer than its seal, and returns the seal's delta.
std::optional<crdt::PnCounter> seal_for(crdt::PnCounter& counter, const Writer& writer) {
    if (!counter.needs_seal(writer.replica, writer.home_epoch)) return std::nullopt;
    return counter.seal(writer.replica, writer.home_epoch);
}

// A write's delta, with the seal it made first (if any) joined in.
crdt::PnCounter with_seal(std::optional<crdt::PnCounter> sealed, crdt::PnCounter delta) {
    if (!sealed) return delta;
    sealed->join(delta);
    return std::move(*sealed);
}

bool retired_writer(const Writer& writer) {
    return std::find(writer.retiring.begin(), writer.retiring.end(), writer.replica) !=
           writer.retiring.end();
}

// Whether `retired`'s part of the counter still counts as its own: a stake the heir takes over.
bool has_stake(const crdt::BoundedCounter& c, crdt::ReplicaId retired,
               const crdt::BoundedCounter::Floor& floor) {
    if (c.handover(retired)) return false;
    if (floor.holder == retired && floor.min < 0) return true;
    return std::any_of(c.entries().begin(), c.entries().end(),
                       [&](const auto& e) { return e.replica == retired; }) ||
           std::any_of(c.transfers().begin(), c.transfers().end(),
                       [&](const auto& t) { return t.from == retired || t.to == retired; });
}

// A bounded-counter write at an heir: hands over first what it inherits in this key, runs
// `write`, and returns both as one delta (handovers travel as whole states anyway). A refused
// write changes nothing, its handovers included.
template <class Write>
Expected<Written, Refusal> with_handovers(crdt::BoundedCounter& counter, const Policy& policy,
                                          const Writer& writer, Write write) {
    if (retired_writer(writer)) return unexpected(Refusal::retired);
    const auto floor = floor_of(policy, writer);
    std::optional<crdt::BoundedCounter> before;
    std::optional<crdt::BoundedCounter> handed;
    for (crdt::ReplicaId retired : writer.heir_of) {
        if (!has_stake(counter, retired, floor)) continue;
        if (!before) before = counter;
        auto delta = counter.hand_over(retired, writer.replica);
        if (delta) handed = std::move(*delta);
    }
    Expected<crdt::BoundedCounter, crdt::Error> delta = write(counter, floor);
    if (!delta) {
        if (before) counter = std::move(*before);
        return unexpected(refusal_of(delta.error()));
    }
    if (handed) {
        handed->join(*delta);
        return Written{crdt::Value(std::move(*handed)), 0};
    }
    return Written{crdt::Value(std::move(*delta)), 0};
}

}  // namespace

crdt::BoundedCounter::Floor floor_of(const Policy& policy, const Writer& writer) {
    return crdt::BoundedCounter::Floor{policy.min.value_or(0), writer.floor_holder};
}

Expected<Written, Refusal> set_value(crdt::Value& state, const Writer& writer, std::string value,
                                     Ttl ttl) {
    auto* reg = state.as<crdt::Register>();
    if (!reg) return unexpected(Refusal::wrong_type);
    const auto kept = ttl == Ttl::keep ? state.deadline() : std::nullopt;
    crdt::Value delta(reg->assign(writer.replica, writer.time, std::move(value)));
    // The same stamp as the value's, so the register write does not void it.
    if (kept) (void)delta.join(state.expire(writer.replica, writer.time, kept));
    return Written{std::move(delta), 1};
}

Expected<Written, Refusal> set_expiring_value(crdt::Value& state, const Writer& writer,
                                              std::string value, std::uint64_t deadline_ms) {
    auto written = set_value(state, writer, std::move(value));
    if (written) (void)written->delta.join(state.expire(writer.replica, writer.time, deadline_ms));
    return written;
}

namespace {

// DEL of a counter, set or hash: what this region observed, and the TTL if `ttl` says so.
Expected<Written, Refusal> remove_observed(crdt::Value& state, const Writer& writer, Ttl ttl) {
    const std::int64_t existed = state.exists() ? 1 : 0;
    crdt::Value delta;
    if (auto* counter = state.as<crdt::PnCounter>()) {
        // Sealed first at a new epoch: the old owner's unshipped writes must not come back.
        auto sealed = seal_for(*counter, writer);
        delta = crdt::Value(with_seal(std::move(sealed), counter->reset()));
    } else if (auto* set = state.as<crdt::StringSet>()) {
        delta = crdt::Value(set->clear());
    } else if (auto* hash = state.as<crdt::Hash>()) {
        delta = crdt::Value(hash->clear());
    } else {
        return unexpected(Refusal::not_supported);
    }
    if (ttl == Ttl::clear && state.deadline())
        (void)delta.join(state.expire(writer.replica, writer.time, std::nullopt));
    return Written{std::move(delta), existed};
}

}  // namespace

Expected<Written, Refusal> delete_value(crdt::Value& state, const Writer& writer) {
    // The register write voids any TTL stamped before it: nothing more to clear.
    if (auto* reg = state.as<crdt::Register>()) {
        const std::int64_t existed = state.exists() ? 1 : 0;
        return Written{crdt::Value(reg->assign(writer.replica, writer.time, std::nullopt)), existed};
    }
    return remove_observed(state, writer, Ttl::clear);
}

Expected<Written, Refusal> reclaim_expired(crdt::Value& state, const Writer& writer, Ttl ttl) {
    auto* reg = state.as<crdt::Register>();
    if (!reg) return remove_observed(state, writer, ttl);
    const crdt::Expiry* expiry = state.expiry();
    if (!expiry || !state.deadline()) return Written{crdt::Value::empty(state.type()), 0};
    const crdt::WriteStamp after_ttl{crdt::Hlc::from_packed(expiry->stamp().time.packed() + 1),
                                     expiry->stamp().writer};
    return Written{crdt::Value(reg->assign(after_ttl.writer, after_ttl.time, std::nullopt)), 1};
}

Expected<Written, Refusal> set_deadline(crdt::Value& state, const Writer& writer,
                                        std::optional<std::uint64_t> deadline_ms) {
    if (state.type() == crdt::ValueType::bounded_counter) return unexpected(Refusal::not_supported);
    return Written{state.expire(writer.replica, writer.time, deadline_ms), 1};
}

Expected<Written, Refusal> add_to_counter(crdt::Value& state, const Policy& policy,
                                          const Writer& writer, std::int64_t amount) {
    if (auto* counter = state.as<crdt::PnCounter>()) {
        if (writer.home_epoch < counter->sealed_epoch()) return unexpected(Refusal::stale_epoch);
        if (policy.home_routed && policy.min && amount < 0) {
            // Exact at the home's owner, which executes every write of the key.
            const auto next = crdt::detail::Int128(counter->value()) + amount;
            if (next < *policy.min) return unexpected(Refusal::below_floor);
        }
        const std::optional<crdt::PnCounter> unsealed =
            counter->needs_seal(writer.replica, writer.home_epoch) ? std::optional(*counter)
                                                                   : std::nullopt;
        auto sealed = seal_for(*counter, writer);
        auto delta = counter->add(writer.replica, amount);
        if (!delta) {
            if (unsealed) *counter = *unsealed;  // a refused write changes nothing
            return unexpected(refusal_of(delta.error()));
        }
        return Written{crdt::Value(with_seal(std::move(sealed), std::move(*delta))), 0};
    }
    if (auto* bounded = state.as<crdt::BoundedCounter>()) {
        return with_handovers(
            *bounded, policy, writer, [&](crdt::BoundedCounter& c, const auto& floor) {
                return amount >= 0
                           ? c.increment(writer.replica, static_cast<std::uint64_t>(amount))
                           : c.decrement(writer.replica,
                                         std::uint64_t{0} - static_cast<std::uint64_t>(amount),
                                         floor, writer.retiring);
            });
    }
    return unexpected(Refusal::wrong_type);
}

Expected<Written, Refusal> add_members(crdt::Value& state, const Writer& writer,
                                       std::span<const std::string> members) {
    auto* set = state.as<crdt::StringSet>();
    if (!set) return unexpected(Refusal::wrong_type);
    crdt::StringSet delta;
    bool first = true;
    std::int64_t added = 0;
    for (const std::string& member : members) {
        added += set->contains(member) ? 0 : 1;
        fold_into(delta, first, set->add(writer.replica, member));
    }
    return Written{crdt::Value(std::move(delta)), added};
}

Expected<Written, Refusal> remove_members(crdt::Value& state, const Writer& writer,
                                          std::span<const std::string> members) {
    auto* set = state.as<crdt::StringSet>();
    if (!set) return unexpected(Refusal::wrong_type);
    crdt::StringSet delta;
    bool first = true;
    std::int64_t removed = 0;
    for (const std::string& member : members) {
        removed += set->contains(member) ? 1 : 0;
        fold_into(delta, first, set->remove(member));
    }
    crdt::Value written(std::move(delta));
    // A set that becomes empty is gone, and its TTL with it (as in Redis): an SADD then makes a
    // new set that does not expire.
    if (set->empty() && state.deadline())
        (void)written.join(state.expire(writer.replica, writer.time, std::nullopt));
    return Written{std::move(written), removed};
}

Expected<Written, Refusal> set_fields(crdt::Value& state, const Writer& writer,
                                      std::span<const std::string> pairs) {
    auto* hash = state.as<crdt::Hash>();
    if (!hash) return unexpected(Refusal::wrong_type);
    crdt::Hash delta;
    std::int64_t added = 0;
    for (std::size_t i = 0; i + 1 < pairs.size(); i += 2) {
        added += hash->contains(pairs[i]) ? 0 : 1;
        delta.join(hash->set(writer.replica, writer.time, pairs[i], pairs[i + 1]));
    }
    return Written{crdt::Value(std::move(delta)), added};
}

Expected<Written, Refusal> remove_fields(crdt::Value& state, const Writer& writer,
                                         std::span<const std::string> fields) {
    auto* hash = state.as<crdt::Hash>();
    if (!hash) return unexpected(Refusal::wrong_type);
    crdt::Hash delta;
    std::int64_t removed = 0;
    for (const std::string& field : fields) {
        removed += hash->contains(field) ? 1 : 0;
        delta.join(hash->remove(field));
    }
    crdt::Value written(std::move(delta));
    // As a set's: an emptied hash is gone, and its TTL with it.
    if (hash->empty() && state.deadline())
        (void)written.join(state.expire(writer.replica, writer.time, std::nullopt));
    return Written{std::move(written), removed};
}

Expected<Written, Refusal> add_to_field(crdt::Value& state, const Writer& writer,
                                        const std::string& field, std::int64_t amount) {
    auto* hash = state.as<crdt::Hash>();
    if (!hash) return unexpected(Refusal::wrong_type);
    // An add of 0 leaves no trace in a counter: a field it creates is written as "0", as Redis
    // stores it.
    if (amount == 0 && !hash->contains(field))
        return Written{crdt::Value(hash->set(writer.replica, writer.time, field, "0")), 0};
    std::int64_t current = 0;
    if (auto text = hash->value_of(field)) {
        auto number = crdt::canonical_int(*text);
        if (!number) return unexpected(Refusal::not_an_integer);
        current = *number;
    }
    const auto next = crdt::detail::Int128(current) + amount;
    if (next < crdt::detail::int64_min || next > crdt::detail::int64_max)
        return unexpected(Refusal::overflow);
    auto delta = hash->increment(writer.replica, field, amount);
    // The value is in range but the counter's own sum is not (an HSET of a large number, then
    // increments the other way): the sum is written as a value instead.
    if (!delta && delta.error() == crdt::Error::overflow)
        return Written{crdt::Value(hash->set(writer.replica, writer.time, field,
                                             std::to_string(static_cast<std::int64_t>(next)))),
                       0};
    if (!delta) return unexpected(refusal_of(delta.error()));
    return Written{crdt::Value(std::move(*delta)), 0};
}

Expected<Written, Refusal> transfer_rights(crdt::Value& state, const Policy& policy,
                                           const Writer& writer, crdt::ReplicaId to,
                                           std::uint64_t amount) {
    auto* bounded = state.as<crdt::BoundedCounter>();
    if (!bounded) return unexpected(Refusal::wrong_type);
    return with_handovers(*bounded, policy, writer,
                          [&](crdt::BoundedCounter& c, const auto& floor) {
                              return c.transfer(writer.replica, to, amount, floor, writer.retiring);
                          });
}

bool needs_handover(const crdt::Value& state, const Policy& policy, const Writer& writer) {
    const auto* bounded = state.as<crdt::BoundedCounter>();
    if (!bounded || retired_writer(writer)) return false;
    const auto floor = floor_of(policy, writer);
    return std::any_of(writer.heir_of.begin(), writer.heir_of.end(),
                       [&](crdt::ReplicaId r) { return has_stake(*bounded, r, floor); });
}

Expected<Written, Refusal> hand_over_rights(crdt::Value& state, const Policy& policy,
                                            const Writer& writer) {
    auto* bounded = state.as<crdt::BoundedCounter>();
    if (!bounded) return unexpected(Refusal::wrong_type);
    if (!needs_handover(state, policy, writer))
        return Written{crdt::Value::empty(crdt::ValueType::bounded_counter), 0};
    return with_handovers(
        *bounded, policy, writer,
        [](crdt::BoundedCounter& c, const auto&) -> Expected<crdt::BoundedCounter, crdt::Error> {
            return c;  // the handovers are the whole write
        });
}

}  // namespace meridian::conflict
