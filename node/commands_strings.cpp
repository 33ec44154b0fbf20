// String commands: GET SET (with NX XX GET KEEPTTL EX PX EXAT PXAT) SETNX GETSET
// GETDEL MGET MSET APPEND STRLEN INCRBYFLOAT SETEX PSETEX GETEX. Writes go to lww
// keys; reads also show counters as their number, as Redis shows an INCRed string.
//
// Conditions (NX, XX) and read-modify-writes (APPEND, INCRBYFLOAT) are decided
// on this region's state: two regions can both succeed concurrently and the
// register then keeps one write (README, "Strings"). A home-routed key has one
// region deciding, so there they are exact.
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "node/command_helpers.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

using crdt::ValueType;

constexpr std::initializer_list<ValueType> string_like = {ValueType::lww, ValueType::counter,
                                                          ValueType::bounded_counter};

// The key's string, or nullopt when absent (the caller checked the type).
std::optional<std::string> current_string(Request& r, const std::string& key) {
    const crdt::Value* value = r.node.db().read(key);
    return value ? string_value(*value) : std::nullopt;
}

// What a write of a string does to its key's TTL: clears it (SET), keeps it (KEEPTTL, APPEND,
// INCRBYFLOAT) or sets a deadline (EX, PX, EXAT, PXAT: HLC milliseconds).
struct TtlWrite {
    conflict::Ttl ttl = conflict::Ttl::clear;
    std::optional<std::uint64_t> deadline_ms;
};

// Writes `value` to lww `key` and answers `answer` once durable.
void write_string(Request& r, const std::string& key, std::string value, std::string answer,
                  TtlWrite ttl = {}) {
    // EXAT / PXAT already past: deleted at once, never stored expired (Redis keeps such a key
    // until something touches it; either way it reads as absent).
    const bool past = ttl.deadline_ms && *ttl.deadline_ms <= r.node.db().now_ms();
    Database::KeyWrite write{key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 if (past) return conflict::delete_value(state, writer);
                                 if (ttl.deadline_ms)
                                     return conflict::set_expiring_value(
                                         state, writer, std::move(value), *ttl.deadline_ms);
                                 return conflict::set_value(state, writer, std::move(value),
                                                            ttl.ttl);
                             }};
    commit(r, std::span(&write, 1), [&](const Database::Committed&) { return std::move(answer); });
}

void get(Request& r) {
    if (refuse_type(r, r.args[1], string_like)) return;
    bulk_or_nil(r.reply, current_string(r, r.args[1]));
}

// The options of SET (from argument 3) and GETEX (from argument 2), parsed as Redis 7's
// parseExtendedStringArguments does: a conflicting, unknown or (for the other command) foreign
// option is a syntax error; an expiry option may be repeated, the last time wins.
struct StringOptions {
    bool nx = false, xx = false, get = false, keep_ttl = false, persist = false;
    std::string expiry;  // "ex", "px", "exat" or "pxat"; empty when none
    std::string_view expiry_time;
};

std::optional<StringOptions> parse_string_options(const std::vector<std::string>& args,
                                                  bool getex) {
    StringOptions o;
    for (std::size_t i = getex ? 2 : 3; i < args.size(); ++i) {
        const std::string option = to_lower(args[i]);
        const bool has_next = i + 1 < args.size();
        const bool is_expiry =
            option == "ex" || option == "px" || option == "exat" || option == "pxat";
        if (option == "nx" && !o.xx && !getex) {
            o.nx = true;
        } else if (option == "xx" && !o.nx && !getex) {
            o.xx = true;
        } else if (option == "get" && !getex) {
            o.get = true;
        } else if (option == "keepttl" && o.expiry.empty() && !getex) {
            o.keep_ttl = true;
        } else if (option == "persist" && o.expiry.empty() && getex) {
            o.persist = true;
        } else if (is_expiry && !o.keep_ttl && !o.persist &&
                   (o.expiry.empty() || o.expiry == option) && has_next) {
            o.expiry = option;
            o.expiry_time = args[++i];
        } else {
            return std::nullopt;
        }
    }
    return o;
}

// The deadline an expiry option names, checked as Redis 7's getExpireMillisecondsOrReply does;
// answers the error (naming `command`) and returns nullopt when it is not a valid time.
std::optional<std::uint64_t> string_deadline(Request& r, std::string_view unit,
                                             std::string_view time, std::string_view command) {
    const auto amount = parse_int(time);
    if (!amount) {
        r.reply = reply::not_integer();
        return std::nullopt;
    }
    const bool seconds = unit == "ex" || unit == "exat";
    const bool relative = unit == "ex" || unit == "px";
    auto deadline = expire_deadline(*amount, seconds, relative ? r.node.db().now_ms() : 0);
    if (*amount <= 0 || !deadline || *deadline <= 0) {
        resp::error(r.reply, "ERR invalid expire time in '" + std::string(command) + "' command");
        return std::nullopt;
    }
    return static_cast<std::uint64_t>(*deadline);
}

// SET key value [NX | XX] [GET] [KEEPTTL | EX s | PX ms | EXAT s | PXAT ms].
void set(Request& r) {
    const auto options = parse_string_options(r.args, false);
    if (!options) return void(r.reply = reply::syntax_error());
    TtlWrite ttl{options->keep_ttl ? conflict::Ttl::keep : conflict::Ttl::clear, std::nullopt};
    if (!options->expiry.empty()) {
        ttl.deadline_ms = string_deadline(r, options->expiry, options->expiry_time, "set");
        if (!ttl.deadline_ms) return;
    }
    const bool nx = options->nx, xx = options->xx, get_old = options->get;
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::lww}) || !runs_here(r, key)) return;
    std::optional<std::string> old;
    if (get_old || nx || xx) old = current_string(r, key);
    std::string answer;
    if (get_old)
        bulk_or_nil(answer, old);
    else
        resp::simple(answer, "OK");
    if ((nx && old) || (xx && !old)) {
        if (!get_old)
            resp::null_bulk(r.reply);
        else
            r.reply = std::move(answer);
        return;
    }
    write_string(r, key, std::move(r.args[2]), std::move(answer), ttl);
}

// SETEX key seconds value, PSETEX key milliseconds value.
void setex_with(Request& r, std::string_view unit) {
    const auto deadline = string_deadline(r, unit, r.args[2], to_lower(r.args[0]));
    if (!deadline) return;
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::lww}) || !runs_here(r, key)) return;
    write_string(r, key, std::move(r.args[3]), ok(), TtlWrite{conflict::Ttl::clear, deadline});
}

void setex(Request& r) {
    setex_with(r, "ex");
}
void psetex(Request& r) {
    setex_with(r, "px");
}

// GETEX key [EX s | PX ms | EXAT s | PXAT ms | PERSIST]: the value, and the TTL changed.
void getex(Request& r) {
    const auto options = parse_string_options(r.args, true);
    if (!options) return void(r.reply = reply::syntax_error());
    const std::string& key = r.args[1];
    if (refuse_type(r, key, string_like)) return;
    const crdt::Value* value = r.node.db().read(key);
    if (!value) return resp::null_bulk(r.reply);
    std::optional<std::uint64_t> deadline;
    if (!options->expiry.empty()) {
        deadline = string_deadline(r, options->expiry, options->expiry_time, "getex");
        if (!deadline) return;
    }
    std::string answer;
    bulk_or_nil(answer, string_value(*value));
    const bool persist = options->persist && value->deadline();
    if (!deadline && !persist) return void(r.reply = std::move(answer));
    if (!runs_here(r, key)) return;
    const auto signed_deadline =
        deadline ? std::optional<std::int64_t>(static_cast<std::int64_t>(*deadline)) : std::nullopt;
    change_deadline(r, key, signed_deadline, std::move(answer));
}

void setnx(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::lww}) || !runs_here(r, key)) return;
    if (current_string(r, key)) return void(r.reply = integer(0));
    write_string(r, key, std::move(r.args[2]), integer(1));
}

void getset(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::lww}) || !runs_here(r, key)) return;
    std::string answer;
    bulk_or_nil(answer, current_string(r, key));
    write_string(r, key, std::move(r.args[2]), std::move(answer));
}

void getdel(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, string_like) || !runs_here(r, key)) return;
    auto old = current_string(r, key);
    if (!old) return resp::null_bulk(r.reply);
    std::string answer;
    resp::bulk(answer, *old);
    Database::KeyWrite write{key, [](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::delete_value(state, writer);
                             }};
    commit(r, std::span(&write, 1), [&](const Database::Committed&) { return std::move(answer); });
}

void append(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::lww}) || !runs_here(r, key)) return;
    std::string value = current_string(r, key).value_or("");
    if (value.size() + r.args[2].size() > r.node.config().max_bulk_bytes) {
        resp::error(r.reply, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
        return;
    }
    value += r.args[2];
    const auto length = static_cast<std::int64_t>(value.size());
    write_string(r, key, std::move(value), integer(length),
                 TtlWrite{conflict::Ttl::keep, std::nullopt});
}

void strlen(Request& r) {
    if (refuse_type(r, r.args[1], string_like)) return;
    r.reply = integer(static_cast<std::int64_t>(current_string(r, r.args[1]).value_or("").size()));
}

void incrbyfloat(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::lww}) || !runs_here(r, key)) return;
    const auto old = current_string(r, key);
    const auto value = old ? parse_long_double(*old) : std::optional<long double>(0);
    const auto increment = parse_long_double(r.args[2]);
    if (!value || !increment) return resp::error(r.reply, "ERR value is not a valid float");
    auto text = float_sum(*value, *increment, r.reply);
    if (!text) return;
    std::string answer;
    resp::bulk(answer, *text);
    write_string(r, key, std::move(*text), std::move(answer),
                 TtlWrite{conflict::Ttl::keep, std::nullopt});
}

void mget(Request& r) {
    resp::array(r.reply, r.args.size() - 1);
    Database& db = r.node.db();
    for (std::size_t i = 1; i < r.args.size(); ++i) {
        const crdt::Value* value = db.read(r.args[i]);
        // Absent, or not a string: nil (as Redis does).
        bulk_or_nil(r.reply, value ? string_value(*value) : std::nullopt);
    }
}

void mset(Request& r) {
    if (r.args.size() % 2 == 0) {
        resp::error(r.reply, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    std::vector<std::string> keys;
    for (std::size_t i = 1; i < r.args.size(); i += 2) {
        if (refuse_type(r, r.args[i], {ValueType::lww})) return;
        keys.push_back(r.args[i]);
    }
    if (!runs_here(r, keys)) return;
    // One write per key, of its last value: the keys of one write share a stamp, so two
    // assignments to one key in it would tie instead of the later one winning.
    std::unordered_map<std::string_view, std::string*> last_value;
    for (std::size_t i = 1; i < r.args.size(); i += 2) last_value[r.args[i]] = &r.args[i + 1];
    std::vector<Database::KeyWrite> writes;
    for (std::size_t i = 1; i < r.args.size(); i += 2) {
        auto it = last_value.find(r.args[i]);
        if (it == last_value.end()) continue;  // written already
        std::string* value = it->second;
        last_value.erase(it);
        writes.push_back({r.args[i], [value](crdt::Value& state, const conflict::Writer& writer) {
                              return conflict::set_value(state, writer, std::move(*value));
                          }});
    }
    commit(r, writes, [](const Database::Committed&) { return ok(); });
}

}  // namespace

std::vector<CommandSpec> string_commands() {
    return {
        {"get", 2, false, get},       {"set", -3, true, set},
        {"setnx", 3, true, setnx},    {"getset", 3, true, getset},
        {"getdel", 2, true, getdel},  {"append", 3, true, append},
        {"strlen", 2, false, strlen}, {"incrbyfloat", 3, true, incrbyfloat},
        {"mget", -2, false, mget},    {"mset", -3, true, mset},
        {"setex", 4, true, setex},    {"psetex", 4, true, psetex},
        {"getex", -2, true, getex},
    };
}

}  // namespace meridian::node
