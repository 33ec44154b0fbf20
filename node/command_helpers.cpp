#include "node/command_helpers.hpp"

#include <algorithm>

#include "node/resp_reply.hpp"

namespace meridian::node {

std::optional<std::string> string_value(const crdt::Value& value) {
    if (const auto* reg = value.as<crdt::Register>()) return reg->value();
    if (const auto* counter = value.as<crdt::PnCounter>()) return std::to_string(counter->value());
    if (const auto* bounded = value.as<crdt::BoundedCounter>())
        return std::to_string(bounded->value());
    return std::nullopt;
}

std::int64_t counter_value(const crdt::Value* value) {
    if (!value) return 0;
    if (const auto* counter = value->as<crdt::PnCounter>()) return counter->value();
    if (const auto* bounded = value->as<crdt::BoundedCounter>()) return bounded->value();
    return 0;
}

bool refuse_type(Request& r, std::string_view key, std::initializer_list<crdt::ValueType> allowed) {
    Database& db = r.node.db();
    const conflict::Policy& policy = db.policy(key);
    const bool fits = std::find(allowed.begin(), allowed.end(), policy.type) != allowed.end();
    if (fits && !db.holds_other_type(key)) return false;
    r.reply = reply::wrong_type(key, policy, r.args[0]);
    return true;
}

bool runs_here(Request& r, std::span<const std::string> keys) {
    if (r.in_transaction) {
        auto refusal = r.node.home_elsewhere(keys);
        if (refusal) resp::error(r.reply, *refusal);
        return !refusal;
    }
    if (r.node.runs_here(keys, r.args, r.slot)) return true;
    r.slot_taken = true;
    return false;
}

bool runs_here(Request& r, const std::string& key) {
    return runs_here(r, std::span(&key, 1));
}

void commit(Request& r, std::span<Database::KeyWrite> writes,
            const Database::ReplyMaker& ok_reply) {
    Database& db = r.node.db();
    auto committed = db.write(writes, ok_reply);
    if (!committed) {
        const std::string_view key = writes.front().key;
        r.reply = reply::write_error(committed.error(), key, db.policy(key), r.args[0]);
        return;
    }
    r.client.last_write_seq = committed->seq;
    r.reply_when_durable(committed->lsn, std::move(committed->reply));
}

std::string ok() {
    std::string out;
    resp::simple(out, "OK");
    return out;
}

std::string integer(std::int64_t v) {
    std::string out;
    resp::integer(out, v);
    return out;
}

}  // namespace meridian::node
