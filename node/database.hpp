// Database: the region's data as commands see it -- the keyspace under the
// cluster's policies -- and the one way to change it locally: a write gets
// this replica's next dot, joins the keyspace, and is appended to the log as
// one record (whatever number of keys it touched). Records from peers are
// applied here too. Event-loop thread only.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conflict/operations.hpp"
#include "conflict/policy.hpp"
#include "crdt/hlc.hpp"
#include "node/conflicts.hpp"
#include "node/keyspace.hpp"
#include "node/log_store.hpp"

namespace meridian::node {

struct WriteError {
    enum class Kind { refused, log_failed } kind = Kind::refused;
    conflict::Refusal refusal = conflict::Refusal::wrong_type;
    std::string message;  // log_failed: why
};

class Database {
public:
    // One key's change within a write: receives the key's state (created empty
    // of the key's policy type when absent) and returns the delta.
    using Mutation =
        std::function<Expected<conflict::Written, conflict::Refusal>(crdt::Value&, const conflict::Writer&)>;
    struct KeyWrite {
        std::string_view key;
        Mutation mutate;
    };
    struct Committed {
        std::uint64_t lsn = 0;  // completes (is acknowledged) once durable: LogStore::when_durable
        std::uint64_t seq = 0;  // this replica's sequence number of the write
        std::vector<conflict::Written> results;  // per KeyWrite
        std::string reply;                       // the client's answer, once durable
    };
    // The client's answer, computed from the results and the keyspace right
    // after the mutations (a forwarded write's answer goes into its record).
    using ReplyMaker = std::function<std::string(const Committed&)>;

    Database(Keyspace& keyspace, const conflict::PolicyTable& policies, LogStore& log,
             crdt::ReplicaId self, crdt::ReplicaId floor_holder, crdt::Hlc clock,
             std::function<std::uint64_t()> physical_ms, std::function<std::uint64_t()> now_ms);

    const conflict::Policy& policy(std::string_view key) const { return policies_.lookup(key); }
    // The time TTLs are measured against: the HLC's physical milliseconds (at least the wall
    // clock's, and past every stamp received), so regions agree on expiry up to clock skew.
    std::uint64_t now_ms() const;
    // The key's state if it exists for clients (not absent, not a tombstone, not expired).
    const crdt::Value* read(std::string_view key) const;
    // The key's state of another type than its policy's (after a policy change), for WRONGTYPE.
    bool holds_other_type(std::string_view key) const;

    // Applies every mutation under one dot. Only the first mutation may refuse
    // (the others must be unable to: multi-key commands check up front), so a
    // refusal changes nothing. Fails without changes when the log is broken.
    // A key that has expired is reclaimed first (conflict::reclaim_expired,
    // clearing its TTL) by a write of its own, so the mutation sees it absent.
    Expected<Committed, WriteError> write(std::span<KeyWrite> writes, const ReplyMaker& reply);

    // The active sweep: reclaims up to `max` keys due (Keyspace::due_for_reclaim) in one write,
    // keeping their TTLs; returns how many.
    Expected<std::size_t, WriteError> reclaim_due(std::size_t max);
    // Keys reclaimed after expiring, by the sweep or before a write (INFO expired_keys).
    std::uint64_t keys_reclaimed() const { return keys_reclaimed_; }

    // A transaction (EXEC): writes until commit_transaction() apply to the keyspace at once,
    // each under its own dot, and reach the log as one record holding all of them, so every
    // peer applies the whole transaction or none of it. Their Committed::lsn is 0; the
    // transaction's is commit_transaction()'s: nullopt when nothing was written.
    void begin_transaction();
    Expected<std::optional<std::uint64_t>, WriteError> commit_transaction();
    bool in_transaction() const { return transaction_ != nullptr; }

    // The next write executes a request forwarded by another region: its
    // record carries the request's id and answer (see RequestStamp).
    // Cleared by that write or by clear_request_stamp().
    void stamp_next_write(replication::RequestStamp stamp) {
        stamp_ = std::move(stamp);
        last_stamped_dot_.reset();
    }
    void clear_request_stamp() { stamp_.reset(); }
    // The dot of the write that carried the current stamp, if it wrote.
    std::optional<crdt::Dot> last_stamped_dot() const { return last_stamped_dot_; }

    // A record from a peer (or a full-sync chunk / merge): joins its deltas
    // and appends it to the log. What the joins decided goes to the conflict tracker, if set.
    void apply(std::shared_ptr<const replication::LogRecord> record);
    void track_conflicts(ConflictTracker* conflicts) { conflicts_ = conflicts; }
    // For a home-routed counter with a floor: the fencing epoch this region writes it in as the
    // owner of its home, 0 if it does not own it (conflict::Writer::home_epoch).
    using HomeEpoch = std::function<std::uint64_t(std::string_view key, const conflict::Policy&)>;
    void set_home_epoch(HomeEpoch home_epoch) { home_epoch_ = std::move(home_epoch); }
    // Bounded-counter rights of retired replicas (conflict::Writer::retiring, heir_of), set by
    // node/home_owners.hpp as retirements are learned and become ready to hand over.
    void set_retirements(std::vector<crdt::ReplicaId> retiring,
                         std::vector<crdt::ReplicaId> heir_of) {
        retiring_ = std::move(retiring);
        heir_of_ = std::move(heir_of);
    }
    std::span<const crdt::ReplicaId> retiring() const { return retiring_; }
    std::span<const crdt::ReplicaId> heir_of() const { return heir_of_; }
    // Whether this region's replica is retired: it writes no bounded counter until it restarts.
    bool self_retired() const {
        return std::find(retiring_.begin(), retiring_.end(), self_) != retiring_.end();
    }

    Keyspace& keyspace() { return keyspace_; }
    const Keyspace& keyspace() const { return keyspace_; }
    LogStore& log() { return log_; }
    crdt::ReplicaId self() const { return self_; }
    crdt::ReplicaId floor_holder() const { return floor_holder_; }
    std::uint64_t deltas_refused() const { return deltas_refused_; }

private:
    Expected<std::size_t, WriteError> reclaim(std::span<const std::string_view> keys,
                                              conflict::Ttl ttl);
    Expected<Committed, WriteError> write_now(std::span<KeyWrite> writes, const ReplyMaker& reply,
                                              bool takes_request_stamp);

    Keyspace& keyspace_;
    const conflict::PolicyTable& policies_;
    LogStore& log_;
    crdt::ReplicaId self_;
    crdt::ReplicaId floor_holder_;
    crdt::Hlc clock_;
    std::function<std::uint64_t()> physical_ms_;
    std::function<std::uint64_t()> now_ms_;
    ConflictTracker* conflicts_ = nullptr;
    HomeEpoch home_epoch_;
    std::vector<crdt::ReplicaId> retiring_;
    std::vector<crdt::ReplicaId> heir_of_;
    std::uint64_t deltas_refused_ = 0;
    std::uint64_t keys_reclaimed_ = 0;
    std::optional<replication::RequestStamp> stamp_;
    std::shared_ptr<replication::LogRecord> transaction_;  // the record a transaction fills
    std::optional<crdt::Dot> last_stamped_dot_;
};

}  // namespace meridian::node
