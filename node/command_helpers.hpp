// What the data-command handlers (commands_*.cpp) share: type checks, home
// routing, committing a write, and the values string-like keys show.
// Event-loop thread only.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "node/commands.hpp"

namespace meridian::node {

// The value a string-like key shows to GET: the register's bytes or the counter's number.
std::optional<std::string> string_value(const crdt::Value& value);
// A counter's or bounded counter's value; 0 when absent.
std::int64_t counter_value(const crdt::Value* value);

// True (after answering WRONGTYPE) when `key` is not of one of the `allowed` types.
bool refuse_type(Request& r, std::string_view key, std::initializer_list<crdt::ValueType> allowed);

// Home routing: true when the write runs here; otherwise it was forwarded to its keys' home
// region (or refused) and the slot is used. Inside a transaction nothing is forwarded: a write
// whose home is another region is answered with an error instead.
bool runs_here(Request& r, std::span<const std::string> keys);
bool runs_here(Request& r, const std::string& key);

// `amount` seconds (`seconds`) or milliseconds after `base_ms`, in milliseconds; nullopt when that
// leaves the signed 64-bit range (Redis answers "invalid expire time").
std::optional<std::int64_t> expire_deadline(std::int64_t amount, bool seconds,
                                            std::uint64_t base_ms);
// Writes `key`'s TTL (a deadline in HLC milliseconds, or never) and answers `answer` once durable.
// A deadline already past deletes the key (as DEL), as Redis does.
void change_deadline(Request& r, const std::string& key, std::optional<std::int64_t> deadline_ms,
                     std::string answer);

// Runs a write and answers `ok_reply(committed)` once it is durable.
void commit(Request& r, std::span<Database::KeyWrite> writes, const Database::ReplyMaker& ok_reply);

// A SCAN or HSCAN cursor read as Redis reads it (strtoul: a sign and an empty text pass, a
// leading space or anything after the digits does not); nullopt: "ERR invalid cursor".
std::optional<std::uint64_t> parse_scan_cursor(const std::string& text);
// SCAN's and HSCAN's options after the cursor.
struct ScanOptions {
    std::optional<std::string> pattern;  // MATCH
    std::size_t count = 10;              // COUNT
    std::optional<std::string> type;     // TYPE (SCAN only), lower-cased
};
// Reads MATCH, COUNT and, when `with_type`, TYPE from args[first..] as Redis does; nullopt after
// writing Redis's error to `out`.
std::optional<ScanOptions> parse_scan_options(const std::vector<std::string>& args,
                                              std::size_t first, bool with_type, std::string& out);
// Redis's TYPE name of a key's type.
std::string_view type_name(crdt::ValueType type);
// A bulk string, or nil.
void bulk_or_nil(std::string& out, const std::optional<std::string>& text);
// Redis's string2ld: the whole text is one long double, not NaN, no leading space, no overflow.
std::optional<long double> parse_long_double(const std::string& text);
// Redis's ld2string(LD_STR_HUMAN): 17 decimals, trailing zeros and a bare '.' removed; empty
// when it does not fit.
std::string format_long_double(long double value);
// The text INCRBYFLOAT and HINCRBYFLOAT store for value + increment, or nullopt after writing
// Redis's error to `reply` (the sum is NaN or infinite, or too long to store).
std::optional<std::string> float_sum(long double value, long double increment, std::string& reply);

std::string ok();
std::string integer(std::int64_t v);

}  // namespace meridian::node
