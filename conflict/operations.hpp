// The write operations a command performs on one key's CRDT state, dispatched
// by the key's policy: what SET, DEL, INCRBY, SADD and SREM mean for each type.
// Each applies the change to `state` (which the caller owns, in its keyspace)
// and returns the delta to log and replicate, or why the write was refused --
// a refused write changes nothing. Pure: no I/O, any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "conflict/policy.hpp"
#include "crdt/expected.hpp"
#include "crdt/hlc.hpp"
#include "crdt/value.hpp"

namespace meridian::conflict {

enum class Refusal : std::uint8_t {
    wrong_type,           // the command does not apply to the key's policy type
    overflow,             // the counter would leave the 64-bit range
    below_floor,          // a home-routed counter would go below its min
    insufficient_rights,  // a bounded counter replica holds too few rights (ask for a transfer)
    not_supported,        // e.g. DEL of a bounded counter
    not_an_integer,       // HINCRBY of a hash field whose value is not an integer
    stale_epoch,          // a home-routed counter was sealed by a newer owner of its home
    retired,              // a bounded counter's rights of this replica were handed to its heir
};

// Who writes, and when.
struct Writer {
    crdt::ReplicaId replica;
    crdt::Hlc time;  // used by register writes
    // The replica holding a bounded counter's initial rights when its floor
    // is below 0: the lowest region of the cluster, epoch 0 (see BoundedCounter).
    crdt::ReplicaId floor_holder;
    // A home-routed counter with a floor: the fencing epoch of its home's owner, the region
    // writing (node/home_owners.hpp); 0 elsewhere. The first write of a later epoch than the
    // counter's seal seals it (crdt::PnCounter, "Seal"); a write of an earlier one is refused.
    std::uint64_t home_epoch = 0;
    // Bounded counters (conflict/home_table.hpp, Retirement): the replicas this region knows are
    // retired. Transfers from them are not spent in a key until they are handed over there, and
    // a writer among them refuses bounded-counter writes (Refusal::retired).
    std::span<const crdt::ReplicaId> retiring = {};
    // Those retired replicas whose rights this writer inherits, ready to be handed over: a
    // bounded-counter write first hands over each of them that has a stake in the key.
    std::span<const crdt::ReplicaId> heir_of = {};
};

struct Written {
    crdt::Value delta;
    std::int64_t count =
        0;  // SADD/SREM, HSET/HDEL: members/fields added/removed; DEL: 1 if the key existed
};

// What a write does to the key's TTL.
enum class Ttl : std::uint8_t { clear, keep };

// SET on an lww key. A plain SET clears the TTL (the register write voids it, see
// crdt::Value::deadline); Ttl::keep (SET KEEPTTL, APPEND, INCRBYFLOAT) writes the live deadline
// again under the SET's stamp.
Expected<Written, Refusal> set_value(crdt::Value& state, const Writer& writer, std::string value,
                                     Ttl ttl = Ttl::clear);
// SET ... EX / PX / EXAT / PXAT, SETEX: the value and its deadline (HLC physical ms) under one
// stamp.
Expected<Written, Refusal> set_expiring_value(crdt::Value& state, const Writer& writer,
                                              std::string value, std::uint64_t deadline_ms);
// DEL: a register is overwritten with "absent"; a counter is reset (observed
// increments are undone, concurrent ones survive); a set or hash loses every
// observed member or field (concurrent adds survive); a bounded counter refuses.
// The TTL goes too.
Expected<Written, Refusal> delete_value(crdt::Value& state, const Writer& writer);
// Reclaims an expired key (state.deadline() has passed): frees what it holds by a
// replicated delete. A register is overwritten with "absent" stamped just after
// its TTL write, not at the writer's clock: a SET made after the deadline at a
// region that had not seen the TTL then still wins. A counter or set loses what
// this region observed, as DEL; Ttl::keep (the active sweep) leaves the TTL so
// that a concurrent write from before the deadline arriving later stays
// expired; Ttl::clear (a write about to re-create the key) writes "never".
Expected<Written, Refusal> reclaim_expired(crdt::Value& state, const Writer& writer, Ttl ttl);
// EXPIRE and its kin (a deadline in HLC physical ms), PERSIST (nullopt). A
// bounded counter refuses: expiring a balance would hand out rights nobody holds.
Expected<Written, Refusal> set_deadline(crdt::Value& state, const Writer& writer,
                                        std::optional<std::uint64_t> deadline_ms);
// INCRBY/DECRBY on a counter or bounded counter. `policy.min` applies to a
// home-routed counter (checked here, exact because every write of the key runs
// at its home) and to a bounded counter (through its rights).
Expected<Written, Refusal> add_to_counter(crdt::Value& state, const Policy& policy,
                                          const Writer& writer, std::int64_t amount);
// SADD / SREM.
Expected<Written, Refusal> add_members(crdt::Value& state, const Writer& writer,
                                       std::span<const std::string> members);
// SREM; a set it empties loses its TTL.
Expected<Written, Refusal> remove_members(crdt::Value& state, const Writer& writer,
                                          std::span<const std::string> members);
// HSET: `pairs` is field, value, field, value...; later pairs win over earlier ones of the same
// field. The TTL stays, as in Redis.
Expected<Written, Refusal> set_fields(crdt::Value& state, const Writer& writer,
                                      std::span<const std::string> pairs);
// HDEL; a hash it empties loses its TTL.
Expected<Written, Refusal> remove_fields(crdt::Value& state, const Writer& writer,
                                         std::span<const std::string> fields);
// HINCRBY: refuses a field whose value is not an integer, and a sum outside the int64 range.
Expected<Written, Refusal> add_to_field(crdt::Value& state, const Writer& writer,
                                        const std::string& field, std::int64_t amount);
// Hands the writer's ready retired replicas (Writer::heir_of) with a stake in this bounded
// counter over to it; an empty delta when none has one.
Expected<Written, Refusal> hand_over_rights(crdt::Value& state, const Policy& policy,
                                            const Writer& writer);
// Whether hand_over_rights would write anything.
bool needs_handover(const crdt::Value& state, const Policy& policy, const Writer& writer);
// Moves `amount` of `writer`'s rights on a bounded counter to `to`.
Expected<Written, Refusal> transfer_rights(crdt::Value& state, const Policy& policy,
                                           const Writer& writer, crdt::ReplicaId to,
                                           std::uint64_t amount);

// The bounded counter floor a policy implies.
crdt::BoundedCounter::Floor floor_of(const Policy& policy, const Writer& writer);

}  // namespace meridian::conflict
