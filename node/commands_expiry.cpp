// Expiry commands: EXPIRE PEXPIRE EXPIREAT PEXPIREAT (with NX XX GT LT), TTL PTTL
// EXPIRETIME PEXPIRETIME, PERSIST. Replies and errors are Redis 7's.
//
// A TTL is replicated state beside the value (crdt::Expiry): the latest TTL write
// by (HLC, region) wins, and times are HLC milliseconds (Database::now_ms), so
// every region agrees whether a key is live up to clock skew. The options and
// "is there a TTL" are decided on this region's state, like SET NX.
#include <algorithm>
#include <limits>
#include <string_view>

#include "node/command_helpers.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

struct ExpireFlags {
    bool nx = false, xx = false, gt = false, lt = false;
};

// Redis 7's parseExtendedExpireArgumentsOrReply; answers the error and returns nullopt.
std::optional<ExpireFlags> parse_expire_flags(Request& r) {
    ExpireFlags f;
    for (std::size_t i = 3; i < r.args.size(); ++i) {
        const std::string option = to_lower(r.args[i]);
        if (option == "nx") {
            f.nx = true;
        } else if (option == "xx") {
            f.xx = true;
        } else if (option == "gt") {
            f.gt = true;
        } else if (option == "lt") {
            f.lt = true;
        } else {
            resp::error(r.reply, "ERR Unsupported option " + r.args[i]);
            return std::nullopt;
        }
    }
    if (f.nx && (f.xx || f.gt || f.lt)) {
        resp::error(r.reply, "ERR NX and XX, GT or LT options at the same time are not compatible");
        return std::nullopt;
    }
    if (f.gt && f.lt) {
        resp::error(r.reply, "ERR GT and LT options at the same time are not compatible");
        return std::nullopt;
    }
    return f;
}

// Whether the options let a key whose deadline is `current` (nullopt: none, an infinite TTL)
// take `when`, as Redis's expireGenericCommand decides.
bool flags_allow(const ExpireFlags& f, std::optional<std::int64_t> current, std::int64_t when) {
    if (f.nx && current) return false;
    if (f.xx && !current) return false;
    if (f.gt && (!current || when <= *current)) return false;
    if (f.lt && current && when >= *current) return false;
    return true;
}

std::optional<std::int64_t> deadline_of(const crdt::Value& value) {
    const auto deadline = value.deadline();
    if (!deadline) return std::nullopt;
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(*deadline, std::numeric_limits<std::int64_t>::max()));
}

// EXPIRE key t [NX|XX|GT|LT] and its kin: t in seconds or milliseconds, after now or after the
// Unix epoch. A time already past deletes the key (as DEL), as in Redis.
void expire_with(Request& r, bool seconds, bool relative) {
    const auto flags = parse_expire_flags(r);
    if (!flags) return;
    const auto amount = parse_int(r.args[2]);
    if (!amount) return void(r.reply = reply::not_integer());
    Database& db = r.node.db();
    const std::uint64_t now = db.now_ms();
    const auto when = expire_deadline(*amount, seconds, relative ? now : 0);
    if (!when)
        return resp::error(r.reply,
                           "ERR invalid expire time in '" + to_lower(r.args[0]) + "' command");
    const std::string& key = r.args[1];
    if (!runs_here(r, key)) return;
    const crdt::Value* value = db.read(key);
    if (!value || !flags_allow(*flags, deadline_of(*value), *when))
        return void(r.reply = integer(0));
    if (value->type() == crdt::ValueType::bounded_counter) {
        return resp::error(
            r.reply, "ERR " + to_lower(r.args[0]) + " is not supported on bounded_counter key '" +
                         key.substr(0, 128) + "': a balance with a floor does not expire");
    }
    change_deadline(r, key, *when, integer(1));
}

void expire(Request& r) {
    expire_with(r, true, true);
}
void pexpire(Request& r) {
    expire_with(r, false, true);
}
void expireat(Request& r) {
    expire_with(r, true, false);
}
void pexpireat(Request& r) {
    expire_with(r, false, false);
}

// TTL and its kin: -2 when the key does not exist, -1 when it has no TTL, else the time left
// (or the deadline) in milliseconds or in seconds rounded to the nearest, as Redis's
// ttlGenericCommand.
void ttl_with(Request& r, bool milliseconds, bool absolute) {
    Database& db = r.node.db();
    const crdt::Value* value = db.read(r.args[1]);
    if (!value) return void(r.reply = integer(-2));
    const auto deadline = deadline_of(*value);
    if (!deadline) return void(r.reply = integer(-1));
    std::int64_t left = absolute ? *deadline : *deadline - static_cast<std::int64_t>(db.now_ms());
    if (left < 0) left = 0;
    // Rounded to the nearest second without left + 500 overflowing near INT64_MAX.
    r.reply = integer(milliseconds ? left : left / 1000 + (left % 1000 >= 500 ? 1 : 0));
}

void ttl(Request& r) {
    ttl_with(r, false, false);
}
void pttl(Request& r) {
    ttl_with(r, true, false);
}
void expiretime(Request& r) {
    ttl_with(r, false, true);
}
void pexpiretime(Request& r) {
    ttl_with(r, true, true);
}

void persist(Request& r) {
    const std::string& key = r.args[1];
    if (!runs_here(r, key)) return;
    const crdt::Value* value = r.node.db().read(key);
    if (!value || !value->deadline()) return void(r.reply = integer(0));
    change_deadline(r, key, std::nullopt, integer(1));
}

}  // namespace

std::vector<CommandSpec> expiry_commands() {
    return {
        {"expire", -3, true, expire},
        {"pexpire", -3, true, pexpire},
        {"expireat", -3, true, expireat},
        {"pexpireat", -3, true, pexpireat},
        {"ttl", 2, false, ttl},
        {"pttl", 2, false, pttl},
        {"expiretime", 2, false, expiretime},
        {"pexpiretime", 2, false, pexpiretime},
        {"persist", 2, true, persist},
    };
}

}  // namespace meridian::node
