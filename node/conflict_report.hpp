// Reading the conflict feed (node/conflicts.hpp): MERIDIAN CONFLICTS [COUNT n] [MATCH glob]
// [SINCE hlc] on the client port and GET /conflicts?count=n&match=glob&since=hlc on the admin
// listener select the same entries; this renders them as RESP and as JSON.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conflict/region_directory.hpp"
#include "crdt/expected.hpp"
#include "node/conflicts.hpp"

namespace meridian::node {

struct ConflictQuery {
    static constexpr std::size_t kDefaultCount = 10;
    std::size_t count = kDefaultCount;
    std::string match;               // a glob on the key (KEYS's dialect); empty: every key
    std::optional<crdt::Hlc> since;  // only entries detected after this
};

// The options after MERIDIAN CONFLICTS, or the error reply's text.
Expected<ConflictQuery, std::string> parse_conflict_query(std::span<const std::string> args);
// The same from a URL query string ("count=5&match=balance%3A*&since=..."), percent-decoded.
Expected<ConflictQuery, std::string> parse_conflict_query_string(std::string_view query);

// Oldest first. Without `since`: the newest `count` matching entries (what just happened). With
// it: the first `count` matching entries detected after it, so a reader pages forward by passing
// the last entry's `detected` each time.
std::vector<const ConflictEntry*> select_conflicts(const ConflictLog& log, const ConflictQuery& q);

// An array of entries, each a flat array of field names and values (as XINFO and SLOWLOG do).
void conflicts_reply(std::string& out, std::span<const ConflictEntry* const> entries,
                     const conflict::RegionDirectory& regions);
// {"region":..., "counts":{...}, "kept":n, "capacity":n, "problem":..., "entries":[...]}
std::string conflicts_json(std::span<const ConflictEntry* const> entries,
                           const conflict::RegionDirectory& regions, std::string_view region,
                           const ConflictTracker& tracker);

}  // namespace meridian::node
