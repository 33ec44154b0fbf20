#include "node/command_helpers.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

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

std::optional<std::int64_t> expire_deadline(std::int64_t amount, bool seconds,
                                            std::uint64_t base_ms) {
    constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
    constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
    if (seconds) {
        if (amount > max / 1000 || amount < min / 1000) return std::nullopt;
        amount *= 1000;
    }
    const auto base = static_cast<std::int64_t>(std::min<std::uint64_t>(base_ms, max));
    if (amount > max - base) return std::nullopt;
    return amount + base;
}

void change_deadline(Request& r, const std::string& key, std::optional<std::int64_t> deadline_ms,
                     std::string answer) {
    const bool past =
        deadline_ms && *deadline_ms <= static_cast<std::int64_t>(r.node.db().now_ms());
    Database::KeyWrite write{
        key, [&](crdt::Value& state, const conflict::Writer& writer) {
            if (past) return conflict::delete_value(state, writer);
            return conflict::set_deadline(
                state, writer,
                deadline_ms ? std::optional<std::uint64_t>(*deadline_ms) : std::nullopt);
        }};
    commit(r, std::span(&write, 1), [&](const Database::Committed&) { return std::move(answer); });
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

void bulk_or_nil(std::string& out, const std::optional<std::string>& text) {
    if (text)
        resp::bulk(out, *text);
    else
        resp::null_bulk(out);
}

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

std::optional<std::string> float_sum(long double value, long double increment, std::string& reply) {
    const long double sum = value + increment;
    if (std::isnan(sum) || std::isinf(sum)) {
        resp::error(reply, "ERR increment would produce NaN or Infinity");
        return std::nullopt;
    }
    std::string text = format_long_double(sum);
    if (text.empty()) {
        resp::error(reply, "ERR increment would produce a number too long to store");
        return std::nullopt;
    }
    return text;
}

std::optional<ScanOptions> parse_scan_options(const std::vector<std::string>& args,
                                              std::size_t first, bool with_type, std::string& out) {
    ScanOptions options;
    for (std::size_t i = first; i < args.size(); i += 2) {
        if (i + 1 >= args.size()) return out = reply::syntax_error(), std::nullopt;
        const std::string option = to_lower(args[i]);
        if (option == "match") {
            options.pattern = args[i + 1];
        } else if (option == "count") {
            auto n = parse_int(args[i + 1]);
            if (!n) return out = reply::not_integer(), std::nullopt;
            if (*n < 1) return out = reply::syntax_error(), std::nullopt;
            options.count = static_cast<std::size_t>(*n);
        } else if (option == "type" && with_type) {
            options.type = to_lower(args[i + 1]);
        } else {
            return out = reply::syntax_error(), std::nullopt;
        }
    }
    return options;
}

std::optional<std::uint64_t> parse_scan_cursor(const std::string& text) {
    char* end = nullptr;
    errno = 0;
    const unsigned long long cursor = std::strtoull(text.c_str(), &end, 10);
    if ((!text.empty() && std::isspace(static_cast<unsigned char>(text[0]))) || *end != '\0' ||
        errno == ERANGE)
        return std::nullopt;
    return cursor;
}

std::string_view type_name(crdt::ValueType type) {
    switch (type) {
        case crdt::ValueType::set:
            return "set";
        case crdt::ValueType::hash:
            return "hash";
        default:
            return "string";  // registers and counters: INCR works on strings
    }
}

}  // namespace meridian::node
