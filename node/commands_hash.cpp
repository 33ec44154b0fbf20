// Hash commands: HSET HMSET HSETNX HGET HMGET HDEL HGETALL HKEYS HVALS HLEN
// HEXISTS HSTRLEN HINCRBY HINCRBYFLOAT HSCAN HRANDFIELD, on keys whose policy type is
// `hash` (crdt/hash.hpp: fields are add-wins against HDEL and DEL, HSET is
// last-writer-wins per field, HINCRBY adds as a counter).
//
// HSETNX and HINCRBYFLOAT decide on this region's state, as SET NX and
// INCRBYFLOAT do: two regions can both succeed concurrently (README, "Hashes").
// Checks run in Redis's order (arguments, then the key's type, then the field),
// so every error reads as Redis's does.
#include <algorithm>
#include <climits>
#include <cmath>
#include <random>
#include <span>

#include "conflict/glob.hpp"
#include "node/command_helpers.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

using crdt::ValueType;

// The key's hash as this region shows it now, or nullptr (absent or expired). The caller
// checked the type.
const crdt::Hash* hash_of(Request& r) {
    const crdt::Value* value = r.node.db().read(r.args[1]);
    return value ? value->as<crdt::Hash>() : nullptr;
}

bool refuse_non_hash(Request& r) {
    return refuse_type(r, r.args[1], {ValueType::hash});
}

// HSET, HMSET and HSETNX: writes field/value pairs and answers `ok_reply`.
void write_fields(Request& r, std::span<const std::string> pairs,
                  const Database::ReplyMaker& ok_reply) {
    Database::KeyWrite write{r.args[1], [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::set_fields(state, writer, pairs);
                             }};
    commit(r, std::span(&write, 1), ok_reply);
}

void hset_pairs(Request& r, bool answer_ok) {
    if (r.args.size() % 2 != 0) {
        resp::error(r.reply,
                    "ERR wrong number of arguments for '" + to_lower(r.args[0]) + "' command");
        return;
    }
    if (refuse_non_hash(r) || !runs_here(r, r.args[1])) return;
    write_fields(r, std::span(r.args).subspan(2), [answer_ok](const Database::Committed& c) {
        return answer_ok ? ok() : integer(c.results[0].count);
    });
}

void hset(Request& r) {
    hset_pairs(r, false);
}
void hmset(Request& r) {
    hset_pairs(r, true);
}

void hsetnx(Request& r) {
    if (refuse_non_hash(r) || !runs_here(r, r.args[1])) return;
    if (const crdt::Hash* hash = hash_of(r); hash && hash->contains(r.args[2]))
        return void(r.reply = integer(0));
    write_fields(r, std::span(r.args).subspan(2),
                 [](const Database::Committed&) { return integer(1); });
}

void hget(Request& r) {
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    bulk_or_nil(r.reply, hash ? hash->value_of(r.args[2]) : std::nullopt);
}

void hmget(Request& r) {
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    resp::array(r.reply, r.args.size() - 2);
    for (std::size_t i = 2; i < r.args.size(); ++i)
        bulk_or_nil(r.reply, hash ? hash->value_of(r.args[i]) : std::nullopt);
}

void hdel(Request& r) {
    if (refuse_non_hash(r) || !runs_here(r, r.args[1])) return;
    // Removing what is not there observes nothing: no write at all.
    const crdt::Hash* hash = hash_of(r);
    std::span<const std::string> fields = std::span(r.args).subspan(2);
    if (!hash || std::none_of(fields.begin(), fields.end(),
                              [&](const std::string& f) { return hash->contains(f); }))
        return void(r.reply = integer(0));
    Database::KeyWrite write{r.args[1], [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::remove_fields(state, writer, fields);
                             }};
    commit(r, std::span(&write, 1),
           [](const Database::Committed& c) { return integer(c.results[0].count); });
}

// HGETALL, HKEYS, HVALS: the fields in field order (Redis's order is its encoding's).
void list_fields(Request& r, bool names, bool values) {
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    const auto items = hash ? hash->items() : std::vector<std::pair<std::string, std::string>>{};
    resp::array(r.reply, items.size() * ((names ? 1 : 0) + (values ? 1 : 0)));
    for (const auto& [field, value] : items) {
        if (names) resp::bulk(r.reply, field);
        if (values) resp::bulk(r.reply, value);
    }
}

void hgetall(Request& r) {
    list_fields(r, true, true);
}
void hkeys(Request& r) {
    list_fields(r, true, false);
}
void hvals(Request& r) {
    list_fields(r, false, true);
}

void hlen(Request& r) {
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    r.reply = integer(hash ? static_cast<std::int64_t>(hash->size()) : 0);
}

void hexists(Request& r) {
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    r.reply = integer(hash && hash->contains(r.args[2]) ? 1 : 0);
}

void hstrlen(Request& r) {
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    const auto value = hash ? hash->value_of(r.args[2]) : std::nullopt;
    r.reply = integer(static_cast<std::int64_t>(value ? value->size() : 0));
}

void hincrby(Request& r) {
    auto amount = parse_int(r.args[3]);
    if (!amount) return void(r.reply = reply::not_integer());
    if (refuse_non_hash(r) || !runs_here(r, r.args[1])) return;
    const std::string& key = r.args[1];
    const std::string& field = r.args[2];
    Database& db = r.node.db();
    Database::KeyWrite write{key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::add_to_field(state, writer, field, *amount);
                             }};
    commit(r, std::span(&write, 1), [&](const Database::Committed&) {
        const crdt::Value* value = db.keyspace().find(key);
        const auto text = value ? value->as<crdt::Hash>()->value_of(field) : std::nullopt;
        return integer(text ? crdt::canonical_int(*text).value_or(0) : 0);
    });
}

void hincrbyfloat(Request& r) {
    const auto increment = parse_long_double(r.args[3]);
    if (!increment) return resp::error(r.reply, "ERR value is not a valid float");
    if (std::isnan(*increment) || std::isinf(*increment))
        return resp::error(r.reply, "ERR value is NaN or Infinity");
    if (refuse_non_hash(r) || !runs_here(r, r.args[1])) return;
    const crdt::Hash* hash = hash_of(r);
    const auto old = hash ? hash->value_of(r.args[2]) : std::nullopt;
    const auto value = old ? parse_long_double(*old) : std::optional<long double>(0);
    if (!value) return resp::error(r.reply, "ERR hash value is not a float");
    auto text = float_sum(*value, *increment, r.reply);
    if (!text) return;
    std::string answer;
    resp::bulk(answer, *text);
    const std::string pair[] = {r.args[2], std::move(*text)};
    write_fields(r, pair, [&answer](const Database::Committed&) { return answer; });
}

// HSCAN answers every matching field at once with cursor 0, whatever the cursor and COUNT: the
// SCAN contract allows it (COUNT is a hint) and Redis does the same for small hashes. A cursor
// into a hash that changes between calls could otherwise skip fields.
void hscan(Request& r) {
    if (!parse_scan_cursor(r.args[2])) return resp::error(r.reply, "ERR invalid cursor");
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    // Redis checks the options only when the key exists.
    std::optional<std::string> pattern;
    if (hash) {
        auto options = parse_scan_options(r.args, 3, /*with_type=*/false, r.reply);
        if (!options) return;
        pattern = std::move(options->pattern);
    }
    auto items = hash ? hash->items() : std::vector<std::pair<std::string, std::string>>{};
    if (pattern)
        std::erase_if(
            items, [&](const auto& item) { return !conflict::glob_match(*pattern, item.first); });
    resp::array(r.reply, 2);
    resp::bulk(r.reply, "0");
    resp::array(r.reply, items.size() * 2);
    for (const auto& [field, value] : items) {
        resp::bulk(r.reply, field);
        resp::bulk(r.reply, value);
    }
}

// HRANDFIELD key [count [WITHVALUES]], as Redis 7 answers it: one field (nil when absent), or
// for a positive count that many distinct fields (at most the hash's), for a negative one
// |count| fields that may repeat; WITHVALUES interleaves the values. Checks in Redis's order:
// the count, the options, then the key's type. Unlike Redis, a negative count beyond
// kMaxRepeatedFields is refused: its reply would be built whole in memory.
constexpr std::int64_t kMaxRepeatedFields = 1'000'000;

void hrandfield(Request& r) {
    std::optional<std::int64_t> count;
    bool with_values = false;
    if (r.args.size() >= 3) {
        count = parse_int(r.args[2]);
        if (!count) return void(r.reply = reply::not_integer());
        if (*count < -LONG_MAX)
            return resp::error(r.reply, "ERR value is out of range, value must between " +
                                            std::to_string(-LONG_MAX) + " and " +
                                            std::to_string(LONG_MAX));
        if (r.args.size() > 4 || (r.args.size() == 4 && to_lower(r.args[3]) != "withvalues"))
            return void(r.reply = reply::syntax_error());
        with_values = r.args.size() == 4;
        if (with_values && (*count < -LONG_MAX / 2 || *count > LONG_MAX / 2))
            return resp::error(r.reply, "ERR value is out of range");
        if (*count < -kMaxRepeatedFields)
            return resp::error(r.reply,
                               "ERR count is out of range: a negative count picks at most " +
                                   std::to_string(kMaxRepeatedFields) + " fields");
    }
    if (refuse_non_hash(r)) return;
    const crdt::Hash* hash = hash_of(r);
    auto items = hash ? hash->items() : std::vector<std::pair<std::string, std::string>>{};
    thread_local std::mt19937_64 rng{std::random_device{}()};
    if (!count) {
        if (items.empty()) return resp::null_bulk(r.reply);
        return resp::bulk(
            r.reply,
            items[std::uniform_int_distribution<std::size_t>(0, items.size() - 1)(rng)].first);
    }
    std::vector<const std::pair<std::string, std::string>*> picked;
    if (*count >= 0) {
        // Distinct fields: a uniform sample, shuffled (std::sample keeps the hash's order).
        const auto n = std::min(items.size(), static_cast<std::size_t>(*count));
        std::vector<const std::pair<std::string, std::string>*> all;
        for (const auto& item : items) all.push_back(&item);
        std::sample(all.begin(), all.end(), std::back_inserter(picked), n, rng);
        std::shuffle(picked.begin(), picked.end(), rng);
    } else if (!items.empty()) {
        std::uniform_int_distribution<std::size_t> any(0, items.size() - 1);
        for (std::int64_t i = 0; i < -*count; ++i) picked.push_back(&items[any(rng)]);
    }
    resp::array(r.reply, picked.size() * (with_values ? 2 : 1));
    for (const auto* item : picked) {
        resp::bulk(r.reply, item->first);
        if (with_values) resp::bulk(r.reply, item->second);
    }
}

}  // namespace

std::vector<CommandSpec> hash_commands() {
    return {
        {"hset", -4, true, hset},       {"hmset", -4, true, hmset},
        {"hsetnx", 4, true, hsetnx},    {"hget", 3, false, hget},
        {"hmget", -3, false, hmget},    {"hdel", -3, true, hdel},
        {"hgetall", 2, false, hgetall}, {"hkeys", 2, false, hkeys},
        {"hvals", 2, false, hvals},     {"hlen", 2, false, hlen},
        {"hexists", 3, false, hexists}, {"hstrlen", 3, false, hstrlen},
        {"hincrby", 4, true, hincrby},  {"hincrbyfloat", 4, true, hincrbyfloat},
        {"hscan", -3, false, hscan},    {"hrandfield", -2, false, hrandfield},
    };
}

}  // namespace meridian::node
