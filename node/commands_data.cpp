// Data commands: counters (INCR INCRBY DECR DECRBY), sets (SADD SREM SMEMBERS
// SISMEMBER SCARD), and DEL EXISTS TYPE; strings are in commands_strings.cpp.
// What a write means for each type is conflict/operations.hpp's business.
#include <span>
#include <string_view>
#include <unordered_set>

#include "node/command_helpers.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

using crdt::ValueType;

// ---- counters ----------------------------------------------------------------

void add_to(Request& r, std::int64_t amount) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::counter, ValueType::bounded_counter}) || !runs_here(r, key)) return;
    Database& db = r.node.db();
    const conflict::Policy& policy = db.policy(key);
    Database::KeyWrite write{key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::add_to_counter(state, policy, writer, amount);
                             }};
    auto committed = db.write(std::span(&write, 1), [&](const Database::Committed&) {
        return integer(counter_value(db.keyspace().find(key)));
    });
    if (!committed && committed.error().kind == WriteError::Kind::refused &&
        committed.error().refusal == conflict::Refusal::insufficient_rights && !r.in_transaction) {
        // A bounded counter short of local rights: get some from a peer (not inside EXEC,
        // which answers at once: there the refusal is the answer).
        return r.node.decrement_with_rights(key, std::uint64_t{0} - static_cast<std::uint64_t>(amount),
                                            r.take_slot(), r.client);
    }
    if (!committed) return void(r.reply = reply::write_error(committed.error(), key, policy, r.args[0]));
    r.client.last_write_seq = committed->seq;
    r.reply_when_durable(committed->lsn, std::move(committed->reply));
}

void incr(Request& r) { add_to(r, 1); }
void decr(Request& r) { add_to(r, -1); }

void incrby(Request& r) {
    auto amount = parse_int(r.args[2]);
    if (!amount) return void(r.reply = reply::not_integer());
    add_to(r, *amount);
}

void decrby(Request& r) {
    auto amount = parse_int(r.args[2]);
    if (!amount) return void(r.reply = reply::not_integer());
    if (*amount == std::numeric_limits<std::int64_t>::min()) {
        resp::error(r.reply, "ERR decrement would overflow");
        return;
    }
    add_to(r, -*amount);
}

// ---- sets --------------------------------------------------------------------

void sadd(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::set}) || !runs_here(r, key)) return;
    std::span<const std::string> members(r.args.begin() + 2, r.args.end());
    Database::KeyWrite write{key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::add_members(state, writer, members);
                             }};
    commit(r, std::span(&write, 1), [](const Database::Committed& c) { return integer(c.results[0].count); });
}

void srem(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::set}) || !runs_here(r, key)) return;
    // Removing what is not there observes nothing: no write at all.
    const crdt::Value* value = r.node.db().read(key);
    std::span<const std::string> members(r.args.begin() + 2, r.args.end());
    const bool any = value && std::any_of(members.begin(), members.end(), [&](const std::string& m) {
                         return value->as<crdt::StringSet>()->contains(m);
                     });
    if (!any) return void(r.reply = integer(0));
    Database::KeyWrite write{key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::remove_members(state, writer, members);
                             }};
    commit(r, std::span(&write, 1), [](const Database::Committed& c) { return integer(c.results[0].count); });
}

const crdt::StringSet* set_of(Request& r) {
    const crdt::Value* value = r.node.db().read(r.args[1]);
    return value ? value->as<crdt::StringSet>() : nullptr;
}

void smembers(Request& r) {
    if (refuse_type(r, r.args[1], {ValueType::set})) return;
    const crdt::StringSet* set = set_of(r);
    resp::array(r.reply, set ? set->size() : 0);
    if (set)
        for (const auto* entry : set->sorted_entries()) resp::bulk(r.reply, entry->first);
}

void sismember(Request& r) {
    if (refuse_type(r, r.args[1], {ValueType::set})) return;
    const crdt::StringSet* set = set_of(r);
    r.reply = integer(set && set->contains(r.args[2]) ? 1 : 0);
}

void scard(Request& r) {
    if (refuse_type(r, r.args[1], {ValueType::set})) return;
    const crdt::StringSet* set = set_of(r);
    r.reply = integer(set ? static_cast<std::int64_t>(set->size()) : 0);
}

// ---- any type ----------------------------------------------------------------

void del(Request& r) {
    Database& db = r.node.db();
    const std::vector<std::string> keys(r.args.begin() + 1, r.args.end());
    if (!runs_here(r, keys)) return;
    std::vector<Database::KeyWrite> writes;
    std::int64_t existing = 0;
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 1; i < r.args.size(); ++i) {
        const std::string& key = r.args[i];
        if (!seen.insert(key).second) continue;  // DEL k k deletes (and counts) k once
        const conflict::Policy& policy = db.policy(key);
        if (db.holds_other_type(key)) return void(r.reply = reply::wrong_type(key, policy, r.args[0]));
        if (policy.type == ValueType::bounded_counter) {
            resp::error(r.reply, "ERR DEL is not supported on bounded_counter key '" + key.substr(0, 128) +
                                     "': a balance with a floor changes only by INCRBY and DECRBY");
            return;
        }
        const bool exists = db.read(key) != nullptr;
        existing += exists ? 1 : 0;
        // A register's delete is an HLC-stamped write that must win over older
        // writes even if they have not arrived yet; deleting a counter or a set
        // removes what was observed, so with nothing observed there is nothing to do.
        if (exists || policy.type == ValueType::lww)
            writes.push_back({key, [](crdt::Value& state, const conflict::Writer& writer) {
                                  return conflict::delete_value(state, writer);
                              }});
    }
    if (writes.empty()) return void(r.reply = integer(0));
    commit(r, writes, [existing](const Database::Committed&) { return integer(existing); });
}

void exists(Request& r) {
    std::int64_t count = 0;
    for (std::size_t i = 1; i < r.args.size(); ++i) count += r.node.db().read(r.args[i]) ? 1 : 0;
    r.reply = integer(count);
}

void type(Request& r) {
    const crdt::Value* value = r.node.db().read(r.args[1]);
    resp::simple(r.reply, !value ? "none" : type_name(value->type()));
}

}  // namespace

std::vector<CommandSpec> data_commands() {
    return {
        {"incr", 2, true, incr},        {"decr", 2, true, decr},
        {"incrby", 3, true, incrby},    {"decrby", 3, true, decrby},    {"sadd", -3, true, sadd},
        {"srem", -3, true, srem},       {"smembers", 2, false, smembers}, {"sismember", 3, false, sismember},
        {"scard", 2, false, scard},     {"del", -2, true, del},         {"exists", -2, false, exists},
        {"type", 2, false, type},
    };
}

}  // namespace meridian::node
