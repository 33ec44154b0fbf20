// Keyspace commands: KEYS, SCAN, DBSIZE. Only keys that exist for clients
// are listed (not deleted registers kept as tombstones, not expired keys);
// DBSIZE, as Redis's, also counts expired keys not reclaimed yet.
#include "conflict/glob.hpp"
#include "node/command_helpers.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

void keys(Request& r) {
    const std::string& pattern = r.args[1];
    std::vector<std::string_view> matches;
    const Keyspace& keyspace = r.node.db().keyspace();
    const std::uint64_t now = r.node.db().now_ms();
    std::uint64_t cursor = 0;
    do {
        cursor = keyspace.scan(cursor, 1024, [&](std::string_view key, const crdt::Value& value) {
            if (value.live_at(now) && conflict::glob_match(pattern, key)) matches.push_back(key);
        });
    } while (cursor != 0);
    resp::array(r.reply, matches.size());
    for (std::string_view key : matches) resp::bulk(r.reply, key);
}

void scan(Request& r) {
    auto parsed = parse_scan_cursor(r.args[1]);
    if (!parsed) return resp::error(r.reply, "ERR invalid cursor");
    std::uint64_t cursor = *parsed;
    const auto options = parse_scan_options(r.args, 2, /*with_type=*/true, r.reply);
    if (!options) return;
    const std::optional<std::string>& pattern = options->pattern;
    const std::optional<std::string>& type = options->type;
    std::vector<std::string_view> found;
    const std::uint64_t now = r.node.db().now_ms();
    cursor = r.node.db().keyspace().scan(cursor, options->count,
                                         [&](std::string_view key, const crdt::Value& value) {
                                             if (!value.live_at(now)) return;
                                             if (pattern && !conflict::glob_match(*pattern, key))
                                                 return;
                                             if (type && *type != type_name(value.type())) return;
                                             found.push_back(key);
                                         });
    resp::array(r.reply, 2);
    resp::bulk(r.reply, std::to_string(cursor));
    resp::array(r.reply, found.size());
    for (std::string_view key : found) resp::bulk(r.reply, key);
}

void dbsize(Request& r) { resp::integer(r.reply, static_cast<std::int64_t>(r.node.db().keyspace().visible_size())); }

// FLUSHALL and FLUSHDB are refused, on purpose. A delete at one region removes only what that
// region has seen (a write concurrent with it survives), so a "flush" could not promise an empty
// database; it would also bypass home routing (a home-routed key is written only at its home)
// and cannot remove bounded counters (a balance is withdrawn, never deleted). DEL of the keys
// (from KEYS or SCAN) says exactly what it does.
void flush(Request& r) {
    resp::error(r.reply, "ERR " + to_lower(r.args[0]) +
                             " is not supported: a delete at one region removes only the writes "
                             "it has seen, so no region can empty the cluster; DEL the keys "
                             "(KEYS or SCAN, then DEL) instead");
}

}  // namespace

std::vector<CommandSpec> key_commands() {
    return {
        {"keys", 2, false, keys},       {"scan", -2, false, scan},     {"dbsize", 1, false, dbsize},
        {"flushall", -1, false, flush}, {"flushdb", -1, false, flush},
    };
}

}  // namespace meridian::node
