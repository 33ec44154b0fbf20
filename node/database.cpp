#include "node/database.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

#include "node/apply.hpp"

namespace meridian::node {

Database::Database(Keyspace& keyspace, const conflict::PolicyTable& policies, LogStore& log,
                   crdt::ReplicaId self, crdt::ReplicaId floor_holder, crdt::Hlc clock,
                   std::function<std::uint64_t()> physical_ms, std::function<std::uint64_t()> now_ms)
    : keyspace_(keyspace), policies_(policies), log_(log), self_(self), floor_holder_(floor_holder),
      clock_(clock), physical_ms_(std::move(physical_ms)), now_ms_(std::move(now_ms)) {}

std::uint64_t Database::now_ms() const {
    return std::max(physical_ms_(), clock_.physical_ms());
}

const crdt::Value* Database::read(std::string_view key) const {
    const crdt::Value* value = keyspace_.find(key);
    return value && value->live_at(now_ms()) ? value : nullptr;
}

bool Database::holds_other_type(std::string_view key) const {
    const crdt::Value* value = keyspace_.find(key);
    return value && value->type() != policy(key).type;
}

Expected<Database::Committed, WriteError> Database::write(std::span<KeyWrite> writes,
                                                          const ReplyMaker& reply) {
    if (log_.broken()) return unexpected(WriteError{WriteError::Kind::log_failed, {}, log_.error()});
    // A write to an expired key acts on an absent key: reclaim it first, as a write of its own.
    std::vector<std::string_view> expired;
    if (keyspace_.with_ttl_size() > 0) {  // else (most keyspaces) no key can have expired
        const std::uint64_t now = now_ms();
        for (const KeyWrite& w : writes) {
            // Also a key the sweep reclaimed, which keeps its TTL (conflict::reclaim_expired).
            const crdt::Value* value = keyspace_.find(w.key);
            const auto deadline = value ? value->deadline() : std::nullopt;
            if (deadline && now > *deadline && value->type() == policy(w.key).type)
                expired.push_back(w.key);
        }
    }
    if (!expired.empty()) {
        if (auto reclaimed = reclaim(expired, conflict::Ttl::clear); !reclaimed)
            return unexpected(reclaimed.error());
    }
    return write_now(writes, reply, true);
}

Expected<std::size_t, WriteError> Database::reclaim(std::span<const std::string_view> keys,
                                                    conflict::Ttl ttl) {
    std::vector<KeyWrite> writes;
    for (std::string_view key : keys) {
        writes.push_back(KeyWrite{key, [ttl](crdt::Value& state, const conflict::Writer& writer) {
                                      return conflict::reclaim_expired(state, writer, ttl);
                                  }});
    }
    auto written = write_now(
        writes, [](const Committed&) { return std::string(); }, false);
    if (!written) return unexpected(written.error());
    keys_reclaimed_ += keys.size();
    return keys.size();
}

Expected<std::size_t, WriteError> Database::reclaim_due(std::size_t max) {
    if (log_.broken())
        return unexpected(WriteError{WriteError::Kind::log_failed, {}, log_.error()});
    std::vector<std::string> due = keyspace_.due_for_reclaim(now_ms(), max);
    // A key whose stored type is not its policy's (after a policy change) cannot be written; it
    // stays in the index (and a full batch of such keys would hold up the others).
    std::erase_if(due, [&](const std::string& key) {
        const crdt::Value* value = keyspace_.find(key);
        return !value || value->type() != policy(key).type;
    });
    if (due.empty()) return std::size_t{0};
    const std::vector<std::string_view> keys(due.begin(), due.end());
    return reclaim(keys, conflict::Ttl::keep);
}

Expected<Database::Committed, WriteError> Database::write_now(std::span<KeyWrite> writes,
                                                              const ReplyMaker& reply,
                                                              bool takes_request_stamp) {
    clock_ = crdt::Hlc::tick(clock_, physical_ms_());
    conflict::Writer writer{self_, clock_, floor_holder_};
    writer.retiring = retiring_;
    writer.heir_of = heir_of_;

    Committed committed;
    committed.seq = (transaction_ && transaction_->hi ? transaction_->hi : log_.version_vector().get(self_)) + 1;
    auto record = transaction_ ? transaction_ : std::make_shared<replication::LogRecord>();
    for (std::size_t i = 0; i < writes.size(); ++i) {
        const KeyWrite& w = writes[i];
        const conflict::Policy& key_policy = policy(w.key);
        const crdt::ValueType type = key_policy.type;
        conflict::Writer key_writer = writer;
        if (home_epoch_ && key_policy.home_routed && key_policy.min)
            key_writer.home_epoch = home_epoch_(w.key, key_policy);
        auto written = keyspace_.modify(w.key, type, [&](crdt::Value& state) -> Expected<conflict::Written, conflict::Refusal> {
            if (state.type() != type) return unexpected(conflict::Refusal::wrong_type);
            return w.mutate(state, key_writer);
        });
        if (!written) {
            assert(i == 0 && "only the first mutation of a write may refuse");
            return unexpected(WriteError{WriteError::Kind::refused, written.error(), {}});
        }
        record->deltas.push_back(replication::KeyDelta{std::string(w.key), written->delta});
        committed.results.push_back(std::move(*written));
    }
    committed.reply = reply(committed);
    record->origin = self_;
    if (!record->lo) record->lo = committed.seq;
    record->hi = committed.seq;
    if (transaction_) {
        assert(!stamp_ && "a forwarded request is never part of a transaction");
        return committed;
    }
    if (stamp_ && takes_request_stamp) {
        stamp_->reply = committed.reply;
        record->request = std::move(stamp_);
        stamp_.reset();
        last_stamped_dot_ = crdt::Dot{self_, committed.seq};
    }
    auto lsn = log_.append(std::move(record), now_ms_());
    if (!lsn) return unexpected(WriteError{WriteError::Kind::log_failed, {}, lsn.error()});
    committed.lsn = *lsn;
    return committed;
}

void Database::begin_transaction() {
    assert(!transaction_);
    transaction_ = std::make_shared<replication::LogRecord>();
}

Expected<std::optional<std::uint64_t>, WriteError> Database::commit_transaction() {
    auto record = std::move(transaction_);
    transaction_.reset();
    if (!record || record->deltas.empty()) return std::optional<std::uint64_t>();
    auto lsn = log_.append(std::move(record), now_ms_());
    if (!lsn) return unexpected(WriteError{WriteError::Kind::log_failed, {}, lsn.error()});
    return std::optional<std::uint64_t>(*lsn);
}

void Database::apply(std::shared_ptr<const replication::LogRecord> record) {
    const std::size_t refused =
        apply_deltas(keyspace_, clock_, record->deltas, physical_ms_(), conflicts_);
    if (refused) {
        deltas_refused_ += refused;
        spdlog::warn("{} replicated deltas hold another type than this region's policy for their keys "
                     "(do the regions run different policies?); they were not applied",
                     refused);
    }
    if (auto appended = log_.append(std::move(record), now_ms_()); !appended)
        spdlog::error("cannot log a replicated record: {}", appended.error());
}

}  // namespace meridian::node
