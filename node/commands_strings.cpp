// String commands: GET SET (with NX XX GET KEEPTTL) SETNX GETSET GETDEL MGET MSET
// APPEND STRLEN INCRBYFLOAT. Writes go to lww keys; reads also show counters as
// their number, as Redis shows an INCRed string.
//
// Conditions (NX, XX) and read-modify-writes (APPEND, INCRBYFLOAT) are decided
// on this region's state: two regions can both succeed concurrently and the
// register then keeps one write (README, "Strings"). A home-routed key has one
// region deciding, so there they are exact.
#include <cctype>
#include <cmath>
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

void bulk_or_nil(std::string& out, const std::optional<std::string>& text) {
    if (text)
        resp::bulk(out, *text);
    else
        resp::null_bulk(out);
}

// Writes `value` to lww `key` and answers `answer` once durable.
void write_string(Request& r, const std::string& key, std::string value, std::string answer) {
    Database::KeyWrite write{key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::set_value(state, writer, std::move(value));
                             }};
    commit(r, std::span(&write, 1), [&](const Database::Committed&) { return std::move(answer); });
}

void get(Request& r) {
    if (refuse_type(r, r.args[1], string_like)) return;
    bulk_or_nil(r.reply, current_string(r, r.args[1]));
}

// SET key value [NX | XX] [GET] [KEEPTTL | EX s | PX ms | EXAT s | PXAT ms]. Options are
// parsed as Redis 7's parseExtendedStringArguments does (a conflicting or unknown option is a
// syntax error); a well-formed expiry is then refused: keys do not expire yet.
void set(Request& r) {
    bool nx = false, xx = false, get_old = false, keep_ttl = false;
    std::string expiry;  // the expiry option given, lower case
    std::string_view expiry_time;
    for (std::size_t i = 3; i < r.args.size(); ++i) {
        const std::string option = to_lower(r.args[i]);
        const bool has_next = i + 1 < r.args.size();
        const bool is_expiry =
            option == "ex" || option == "px" || option == "exat" || option == "pxat";
        if (option == "nx" && !xx) {
            nx = true;
        } else if (option == "xx" && !nx) {
            xx = true;
        } else if (option == "get") {
            get_old = true;
        } else if (option == "keepttl" && expiry.empty()) {
            keep_ttl = true;  // no key has a TTL to keep
        } else if (is_expiry && !keep_ttl && (expiry.empty() || expiry == option) && has_next) {
            expiry = option;
            expiry_time = r.args[++i];
        } else {
            return void(r.reply = reply::syntax_error());
        }
    }
    if (!expiry.empty()) {
        // Redis's checks of the time first, so that a bad one is reported as Redis does.
        const auto time = parse_int(expiry_time);
        if (!time) return void(r.reply = reply::not_integer());
        const bool seconds = expiry == "ex" || expiry == "exat";
        if (*time <= 0 || (seconds && *time > std::numeric_limits<std::int64_t>::max() / 1000))
            return resp::error(r.reply, "ERR invalid expire time in 'set' command");
        return resp::error(r.reply, "ERR SET " + expiry +
                                        " is not supported: Meridian keys do not expire yet "
                                        "(README, Known limitations)");
    }
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
    write_string(r, key, std::move(r.args[2]), std::move(answer));
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
    write_string(r, key, std::move(value), integer(length));
}

void strlen(Request& r) {
    if (refuse_type(r, r.args[1], string_like)) return;
    r.reply = integer(static_cast<std::int64_t>(current_string(r, r.args[1]).value_or("").size()));
}

// Redis's string2ld: the whole text is one long double, not NaN, no leading space, no overflow.
std::optional<long double> parse_long_double(const std::string& text) {
    if (text.empty() || text.size() >= 5 * 1024 ||
        std::isspace(static_cast<unsigned char>(text[0])))
        return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long double value = std::strtold(text.c_str(), &end);
    if (end != text.c_str() + text.size() || std::isnan(value) || errno == EINVAL ||
        (errno == ERANGE && (value == HUGE_VALL || value == -HUGE_VALL || value == 0)))
        return std::nullopt;
    return value;
}

// Redis's ld2string(LD_STR_HUMAN): 17 decimals, trailing zeros and a bare '.' removed.
std::string format_long_double(long double value) {
    char buffer[5 * 1024];
    int length = std::snprintf(buffer, sizeof buffer, "%.17Lf", value);
    if (length <= 0 || static_cast<std::size_t>(length) >= sizeof buffer) return {};
    std::string text(buffer, static_cast<std::size_t>(length));
    if (text.find('.') != std::string::npos) {
        while (text.back() == '0') text.pop_back();
        if (text.back() == '.') text.pop_back();
    }
    if (text == "-0") text = "0";
    return text;
}

void incrbyfloat(Request& r) {
    const std::string& key = r.args[1];
    if (refuse_type(r, key, {ValueType::lww}) || !runs_here(r, key)) return;
    const auto old = current_string(r, key);
    const auto value = old ? parse_long_double(*old) : std::optional<long double>(0);
    const auto increment = parse_long_double(r.args[2]);
    if (!value || !increment) return resp::error(r.reply, "ERR value is not a valid float");
    const long double sum = *value + *increment;
    if (std::isnan(sum) || std::isinf(sum))
        return resp::error(r.reply, "ERR increment would produce NaN or Infinity");
    std::string text = format_long_double(sum);
    if (text.empty())
        return resp::error(r.reply, "ERR increment would produce a number too long to store");
    std::string answer;
    resp::bulk(answer, text);
    write_string(r, key, std::move(text), std::move(answer));
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
    };
}

}  // namespace meridian::node
