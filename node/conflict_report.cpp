#include "node/conflict_report.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>
#include <utility>
#include <variant>

#include "conflict/glob.hpp"
#include "node/json_text.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

// One option into `q`; the error names what was wrong.
Expected<void, std::string> set_option(ConflictQuery& q, std::string name, std::string_view value) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (name == "count") {
        const auto n = parse_u64(value);
        if (!n || *n == 0) return unexpected(std::string("COUNT must be a positive integer"));
        q.count = static_cast<std::size_t>(*n);
    } else if (name == "match") {
        q.match = std::string(value);
    } else if (name == "since") {
        const auto hlc = parse_u64(value);
        if (!hlc)
            return unexpected(std::string("SINCE must be an HLC, as entries show in 'detected'"));
        q.since = crdt::Hlc::from_packed(*hlc);
    } else {
        return unexpected("unknown option '" + name.substr(0, 64) + "'");
    }
    return {};
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '+') {
            out += ' ';
        } else if (text[i] != '%') {
            out += text[i];
        } else {
            unsigned value = 0;
            if (i + 2 >= text.size()) return std::nullopt;
            const auto [end, ec] =
                std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
            if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
            out += static_cast<char>(value);
            i += 2;
        }
    }
    return out;
}

// One field of an entry: text, a number, or nil (the value of a losing DEL).
struct Field {
    std::string_view name;
    std::variant<std::string, std::uint64_t, std::monostate> value;
};

std::string replica_name(crdt::ReplicaId replica, const conflict::RegionDirectory& regions) {
    const std::string_view name = regions.name_of(replica.region);
    return name.empty() ? std::to_string(replica.region) : std::string(name);
}

}  // namespace

Expected<ConflictQuery, std::string> parse_conflict_query(std::span<const std::string> args) {
    ConflictQuery q;
    if (args.size() % 2 != 0) return unexpected(std::string("syntax error: options take a value"));
    for (std::size_t i = 0; i < args.size(); i += 2)
        if (auto set = set_option(q, args[i], args[i + 1]); !set) return unexpected(set.error());
    return q;
}

Expected<ConflictQuery, std::string> parse_conflict_query_string(std::string_view query) {
    ConflictQuery q;
    while (!query.empty()) {
        const std::string_view pair = query.substr(0, query.find('&'));
        query.remove_prefix(std::min(query.size(), pair.size() + 1));
        if (pair.empty()) continue;
        const std::size_t eq = pair.find('=');
        const auto name = percent_decode(pair.substr(0, eq));
        const auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (!name || !value) return unexpected(std::string("malformed percent-encoding"));
        if (auto set = set_option(q, *name, *value); !set) return unexpected(set.error());
    }
    return q;
}

std::vector<const ConflictEntry*> select_conflicts(const ConflictLog& log, const ConflictQuery& q) {
    const auto matches = [&](const ConflictEntry& e) {
        return (!q.since || e.detected > *q.since) &&
               (q.match.empty() || conflict::glob_match(q.match, e.key));
    };
    std::vector<const ConflictEntry*> out;
    const auto& entries = log.entries();
    if (q.since) {
        // Entries are in detection order: skip to the first one after `since`.
        auto it =
            std::upper_bound(entries.begin(), entries.end(), *q.since,
                             [](crdt::Hlc t, const ConflictEntry& e) { return t < e.detected; });
        for (; it != entries.end() && out.size() < q.count; ++it)
            if (matches(*it)) out.push_back(&*it);
        return out;
    }
    for (auto it = entries.rbegin(); it != entries.rend() && out.size() < q.count; ++it)
        if (matches(*it)) out.push_back(&*it);
    std::reverse(out.begin(), out.end());
    return out;
}

namespace {

std::vector<Field> fields_of(const ConflictEntry& e, const conflict::RegionDirectory& regions) {
    Field value{"value", std::monostate{}};
    if (e.value) value.value = *e.value;
    return {
        // HLCs as text: they pass 2^53, past what a JSON reader keeps exact.
        {"detected", std::to_string(e.detected.packed())},
        {"key", e.key},
        std::move(value),
        {"value_size", e.value_size},
        {"loser_region", replica_name(e.loser.writer, regions)},
        {"loser_epoch", std::uint64_t{e.loser.writer.epoch}},
        {"loser_hlc", std::to_string(e.loser.time.packed())},
        {"loser_ms", e.loser.time.physical_ms()},
        {"winner_region", replica_name(e.winner.writer, regions)},
        {"winner_epoch", std::uint64_t{e.winner.writer.epoch}},
        {"winner_hlc", std::to_string(e.winner.time.packed())},
        {"winner_ms", e.winner.time.physical_ms()},
    };
}

}  // namespace

void conflicts_reply(std::string& out, std::span<const ConflictEntry* const> entries,
                     const conflict::RegionDirectory& regions) {
    resp::array(out, entries.size());
    for (const ConflictEntry* e : entries) {
        const auto fields = fields_of(*e, regions);
        resp::array(out, fields.size() * 2);
        for (const Field& f : fields) {
            resp::bulk(out, f.name);
            if (const auto* text = std::get_if<std::string>(&f.value)) {
                resp::bulk(out, *text);
            } else if (const auto* number = std::get_if<std::uint64_t>(&f.value)) {
                resp::integer(out, static_cast<std::int64_t>(*number));
            } else {
                resp::null_bulk(out);
            }
        }
    }
}

std::string conflicts_json(std::span<const ConflictEntry* const> entries,
                           const conflict::RegionDirectory& regions, std::string_view region,
                           const ConflictTracker& tracker) {
    const ConflictCounts& c = tracker.counts();
    std::ostringstream out;
    out << "{\"region\":\"" << json_escape(region)
        << "\",\"counts\":{\"lww_overwritten\":" << c.lww_overwritten
        << ",\"set_adds_kept\":" << c.set_adds_kept << ",\"counter_merges\":" << c.counter_merges
        << ",\"counter_writes_undone\":" << c.counter_writes_undone
        << "},\"kept\":" << tracker.log().entries().size()
        << ",\"capacity\":" << tracker.log().options().capacity << ",\"problem\":\""
        << json_escape(tracker.log().problem()) << "\",\"entries\":[";
    const char* sep = "";
    for (const ConflictEntry* e : entries) {
        out << std::exchange(sep, ",") << '{';
        const char* field_sep = "";
        for (const Field& f : fields_of(*e, regions)) {
            out << std::exchange(field_sep, ",") << '"' << f.name << "\":";
            if (const auto* text = std::get_if<std::string>(&f.value)) {
                out << '"' << json_escape(*text, true) << '"';
            } else if (const auto* number = std::get_if<std::uint64_t>(&f.value)) {
                out << *number;
            } else {
                out << "null";
            }
        }
        out << '}';
    }
    out << "]}";
    return out.str();
}

}  // namespace meridian::node
