#include "node/cluster_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <span>

#include "conflict/glob.hpp"
#include "storage/toml_words.hpp"

namespace meridian::node {
namespace {

using namespace std::string_view_literals;

constexpr std::size_t max_config_bytes = 4u << 20;
constexpr std::size_t max_secret_bytes = 64u << 10;
constexpr std::size_t max_region_name = 64;
constexpr std::size_t max_cluster_name = 255;

// ---------------------------------------------------------------------------
// Words for messages (quote, with_article: storage/toml_words.hpp)

// Edits (insert, delete, substitute, swap two neighbours) turning a into b.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1,
                                d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
            }
        }
    }
    return d[a.size()][b.size()];
}

// Suggests a known key only for a near miss: a third of its letters at most.
std::string unknown_key(std::string_view key, std::span<const std::string_view> known) {
    std::string message = "unknown key " + quote(key);
    std::string_view best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    if (key.size() <= 64) {
        for (std::string_view candidate : known) {
            const std::size_t d = edit_distance(key, candidate);
            if (d <= std::max<std::size_t>(1, candidate.size() / 3) && d < best_distance) {
                best = candidate;
                best_distance = d;
            }
        }
    }
    if (!best.empty()) message += " (did you mean " + quote(best) + "?)";
    return message;
}

// ---------------------------------------------------------------------------
// Section: reads the keys of one TOML table. It keeps the first problem found
// and turns every later read into a no-op, so validating a section reads as
// straight-line code checked once at the end.

class Section {
public:
    Section(const toml::table& table, std::string_view source, std::string entry)
        : table_(table), source_(source), entry_(std::move(entry)) {}

    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }

    void fail(std::string_view problem) {
        if (failed()) return;
        error_ = std::string(source_) + ": ";
        if (!entry_.empty()) error_ += entry_ + ": ";
        error_ += problem;
    }

    void set_entry(std::string entry) { entry_ = std::move(entry); }
    const toml::table& table() const { return table_; }
    bool has(std::string_view key) const { return table_.contains(key); }

    // Fails on the first key, in file order, that `known` lacks.
    void reject_unknown_keys(std::span<const std::string_view> known) {
        if (failed()) return;
        const toml::key* first = nullptr;
        for (auto&& [key, value] : table_) {
            if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
            if (!first || key.source().begin < first->source().begin) first = &key;
        }
        if (first) fail(unknown_key(first->str(), known));
    }

    std::optional<std::string> string(std::string_view key) {
        const toml::node* node = typed(key, toml::node_type::string, "a string");
        if (!node) return std::nullopt;
        return std::string(node->as_string()->get());
    }

    std::optional<std::int64_t> integer(std::string_view key) {
        const toml::node* node = typed(key, toml::node_type::integer, "an integer");
        if (!node) return std::nullopt;
        return node->as_integer()->get();
    }

    // A string that must not be empty when present.
    std::optional<std::string> nonempty_string(std::string_view key) {
        auto value = string(key);
        if (value && value->empty()) {
            fail(std::string(key) + " is empty");
            return std::nullopt;
        }
        return value;
    }

    // An array of tables ([[key]]); nullptr when absent or malformed.
    const toml::array* tables(std::string_view key) {
        if (failed()) return nullptr;
        const toml::node* node = table_.get(key);
        if (!node) return nullptr;
        const bool empty_array = node->is_array() && node->as_array()->empty();
        if (!empty_array && !node->is_array_of_tables()) {
            fail(std::string(key) + " must be an array of tables ([[" + std::string(key) +
                 "]]), not " + std::string(with_article(node->type())));
            return nullptr;
        }
        return node->as_array();
    }

    // A count stored in U, at least `min`. Absent: `out` keeps its default.
    template <class U>
    void count(std::string_view key, U& out, U min) {
        const auto value = integer(key);
        if (!value) return;
        constexpr auto max = std::numeric_limits<U>::max();
        if (*value < 0 || static_cast<std::uint64_t>(*value) < min) {
            fail(std::string(key) +
                 (min == 1 ? " must be positive" : " must be at least " + std::to_string(min)) +
                 ", got " + std::to_string(*value));
        } else if (static_cast<std::uint64_t>(*value) > max) {
            fail(std::string(key) + " must be at most " + std::to_string(max) + ", got " +
                 std::to_string(*value));
        } else {
            out = static_cast<U>(*value);
        }
    }

private:
    const toml::node* typed(std::string_view key, toml::node_type type, std::string_view want) {
        if (failed()) return nullptr;
        const toml::node* node = table_.get(key);
        if (!node) return nullptr;
        if (node->type() != type) {
            fail(std::string(key) + " must be " + std::string(want) + ", not " +
                 std::string(with_article(node->type())));
            return nullptr;
        }
        return node;
    }

    const toml::table& table_;
    std::string_view source_;
    std::string entry_;
    std::string error_;
};

// ---------------------------------------------------------------------------
// Vocabulary

template <class U>
struct CountKey {
    std::string_view key;
    U ClusterConfig::*field;
    U min;  // 0 only where zero means something ("never", "at once")
};

const std::array u64_keys = {
    CountKey<std::uint64_t>{"wal_retention_bytes", &ClusterConfig::wal_retention_bytes, 1},
    CountKey<std::uint64_t>{"wal_segment_bytes", &ClusterConfig::wal_segment_bytes, 1},
    CountKey<std::uint64_t>{"log_tail_bytes", &ClusterConfig::log_tail_bytes, 0},
    CountKey<std::uint64_t>{"snapshot_every_records", &ClusterConfig::snapshot_every_records, 1},
    CountKey<std::uint64_t>{"max_bulk_bytes", &ClusterConfig::max_bulk_bytes, 1},
    CountKey<std::uint64_t>{"batch_bytes", &ClusterConfig::batch_bytes, 1},
    CountKey<std::uint64_t>{"conflict_log_entries", &ClusterConfig::conflict_log_entries, 0},
    CountKey<std::uint64_t>{"conflict_log_value_bytes", &ClusterConfig::conflict_log_value_bytes,
                            0},
};

const std::array u32_keys = {
    CountKey<std::uint32_t>{"snapshot_every_seconds", &ClusterConfig::snapshot_every_seconds, 1},
    CountKey<std::uint32_t>{"max_clients", &ClusterConfig::max_clients, 1},
    CountKey<std::uint32_t>{"max_args", &ClusterConfig::max_args, 1},
    CountKey<std::uint32_t>{"client_timeout_ms", &ClusterConfig::client_timeout_ms, 0},
    CountKey<std::uint32_t>{"forward_timeout_ms", &ClusterConfig::forward_timeout_ms, 1},
    CountKey<std::uint32_t>{"rights_timeout_ms", &ClusterConfig::rights_timeout_ms, 1},
    CountKey<std::uint32_t>{"home_lease_ms", &ClusterConfig::home_lease_ms, 100},
    CountKey<std::uint32_t>{"failover_after_ms", &ClusterConfig::failover_after_ms, 0},
    CountKey<std::uint32_t>{"heartbeat_ms", &ClusterConfig::heartbeat_ms, 1},
    CountKey<std::uint32_t>{"peer_timeout_ms", &ClusterConfig::peer_timeout_ms, 1},
    CountKey<std::uint32_t>{"relay_delay_ms", &ClusterConfig::relay_delay_ms, 0},
    CountKey<std::uint32_t>{"reconnect_min_ms", &ClusterConfig::reconnect_min_ms, 1},
    CountKey<std::uint32_t>{"reconnect_max_ms", &ClusterConfig::reconnect_max_ms, 1},
    CountKey<std::uint32_t>{"archive_timeout_ms", &ClusterConfig::archive_timeout_ms, 0},
};

const std::vector<std::string_view>& top_level_keys() {
    static const std::vector<std::string_view> keys = [] {
        std::vector<std::string_view> k = {
            "cluster"sv, "secret"sv, "secret_file"sv, "fsync"sv,       "default_policy"sv,
            "regions"sv, "policy"sv, "tls"sv,         "requirepass"sv, "log_level"sv,
        };
        for (const auto& c : u64_keys) k.push_back(c.key);
        for (const auto& c : u32_keys) k.push_back(c.key);
        return k;
    }();
    return keys;
}

constexpr std::array region_keys = {"id"sv,           "name"sv,         "client_listen"sv,
                                    "peer_listen"sv,  "admin_listen"sv, "data_dir"sv,
                                    "archive_dir"sv};
constexpr std::array policy_keys = {"match"sv, "type"sv, "route"sv, "home"sv, "min"sv};
constexpr std::array tls_keys = {"cert"sv, "key"sv, "ca"sv};
constexpr std::array log_levels = {"trace"sv, "debug"sv,    "info"sv, "warn"sv,
                                   "error"sv, "critical"sv, "off"sv};
constexpr std::string_view type_names = "lww, counter, set, bounded_counter, hash";

std::optional<crdt::ValueType> value_type_named(std::string_view name) {
    for (auto type : {crdt::ValueType::lww, crdt::ValueType::counter, crdt::ValueType::set,
                      crdt::ValueType::bounded_counter, crdt::ValueType::hash}) {
        if (crdt::name_of(type) == name) return type;
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------
// Values with a shape

bool valid_region_name(std::string_view name) {
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    });
}

// "host:port" -> the same with the port in plain decimal, or what is wrong.
// The host is a name or IPv4 address, or an IPv6 address in brackets.
Expected<std::string, std::string> canonical_address(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return unexpected(std::string("has no :port"));
    const std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    if (host.empty()) return unexpected(std::string("has no host before the port"));
    const auto is_in = [](std::string_view s, auto allowed) {
        return std::all_of(s.begin(), s.end(), allowed);
    };
    if (host.front() == '[') {
        if (host.size() < 3 || host.back() != ']' ||
            !is_in(host.substr(1, host.size() - 2), [](char c) {
                return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
            })) {
            return unexpected(std::string("has a malformed [IPv6] host"));
        }
    } else if (!is_in(host, [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                          c == '_';
               })) {
        return unexpected(std::string(host.find(':') != std::string_view::npos
                                          ? "has an IPv6 host outside [brackets]"
                                          : "has a host with characters a host name cannot hold"));
    }
    if (port.empty() || !is_in(port, [](char c) { return c >= '0' && c <= '9'; })) {
        return unexpected(std::string("has a port that is not a number"));
    }
    std::uint32_t number = 0;
    for (char c : port) {
        number = std::min<std::uint32_t>(number * 10 + static_cast<std::uint32_t>(c - '0'), 65536);
    }
    if (number < 1 || number > 65535) {
        return unexpected("has port " + std::string(port) + ", outside 1..65535");
    }
    return std::string(host) + ":" + std::to_string(number);
}

std::filesystem::path beside(std::string_view source, const std::string& file) {
    std::filesystem::path path(file);
    if (path.is_absolute()) return path;
    return std::filesystem::path(source).parent_path() / path;
}

// Reads at most `limit` + 1 bytes, so an oversized file is recognised without
// reading it all.
Expected<std::string, std::string> read_capped(const std::filesystem::path& path,
                                               std::size_t limit) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) return unexpected("cannot read (" + std::string(std::strerror(errno)) + ")");
    std::string content;
    char buffer[8192];
    while (content.size() <= limit) {
        const std::size_t n = std::fread(buffer, 1, sizeof buffer, file);
        content.append(buffer, n);
        if (n < sizeof buffer) break;
    }
    const bool failed = std::ferror(file) != 0;
    const int error = errno;
    std::fclose(file);
    if (failed) return unexpected("cannot read (" + std::string(std::strerror(error)) + ")");
    if (content.size() > limit) {
        return unexpected("is larger than " + std::to_string(limit) + " bytes");
    }
    return content;
}

// ---------------------------------------------------------------------------
// Entries

struct AddressUse {
    std::string canonical;
    std::string owner;  // "the client_listen of us-east"
};

std::optional<RegionConfig> parse_region(Section& s) {
    s.reject_unknown_keys(region_keys);
    RegionConfig region;

    const auto id = s.integer("id");
    if (!s.failed() && !id) s.fail("missing id (a number 1..65535)");
    if (id && (*id < 1 || *id > 65535)) {
        s.fail("id " + std::to_string(*id) + " is outside 1..65535");
    }
    if (id) region.id = static_cast<crdt::RegionId>(*id);

    const auto name = s.string("name");
    if (!s.failed() && !name) s.fail("missing name");
    if (name && name->empty()) s.fail("name is empty");
    if (name && name->size() > max_region_name) {
        s.fail("name is longer than " + std::to_string(max_region_name) + " characters");
    }
    if (name && !valid_region_name(*name)) {
        s.fail("name " + quote(*name) + " may hold only letters, digits, '-' and '_'");
    }
    if (name) region.name = *name;

    for (auto [key, field] : {std::pair{"client_listen"sv, &RegionConfig::client_listen},
                              std::pair{"peer_listen"sv, &RegionConfig::peer_listen},
                              std::pair{"admin_listen"sv, &RegionConfig::admin_listen}}) {
        const auto address = s.string(key);
        if (!s.failed() && !address && key != "admin_listen") {
            s.fail("missing " + std::string(key) + " (host:port)");
        }
        if (!address) continue;
        auto canonical = canonical_address(*address);
        if (!canonical) {
            s.fail(std::string(key) + " " + quote(*address) + " " + canonical.error());
            continue;
        }
        region.*field = std::move(*canonical);
    }

    const auto data_dir = s.nonempty_string("data_dir");
    region.data_dir = data_dir ? *data_dir : "data/" + region.name;
    if (const auto archive_dir = s.nonempty_string("archive_dir")) region.archive_dir = *archive_dir;

    if (s.failed()) return std::nullopt;
    return region;
}

// Reads the [[regions]] entries in file order and checks them against each
// other: ids, names and listen addresses are each used once.
Expected<std::vector<RegionConfig>, std::string> parse_regions(const toml::array& entries,
                                                               std::string_view source) {
    std::vector<RegionConfig> regions;
    std::vector<AddressUse> addresses;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        const std::string entry = "[[regions]] #" + std::to_string(i + 1);
        Section s(*entries[i].as_table(), source, entry);
        auto region = parse_region(s);
        if (!region) return unexpected(s.error());

        for (std::size_t j = 0; j < regions.size(); ++j) {
            if (regions[j].id == region->id) {
                s.fail("duplicate id " + std::to_string(region->id) + " (also used by " +
                       regions[j].name + ")");
            }
            if (regions[j].name == region->name) {
                s.fail("duplicate name " + quote(region->name) + " (also used by [[regions]] #" +
                       std::to_string(j + 1) + ")");
            }
        }
        for (auto [key, field] : {std::pair{"client_listen"sv, &RegionConfig::client_listen},
                                  std::pair{"peer_listen"sv, &RegionConfig::peer_listen},
                                  std::pair{"admin_listen"sv, &RegionConfig::admin_listen}}) {
            const std::string& address = (*region).*field;
            if (address.empty()) continue;
            std::string canonical = address;
            std::transform(canonical.begin(), canonical.end(), canonical.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            for (const AddressUse& use : addresses) {
                if (use.canonical == canonical) {
                    s.fail(std::string(key) + " " + quote(address) + " is already " + use.owner);
                }
            }
            addresses.push_back(
                {std::move(canonical), "the " + std::string(key) + " of " + region->name});
        }
        if (s.failed()) return unexpected(s.error());
        regions.push_back(std::move(*region));
    }
    return regions;
}

std::string region_list(const std::vector<RegionConfig>& regions) {
    std::string list;
    for (const RegionConfig& r : regions) {
        if (!list.empty()) list += ", ";
        list += r.name;
    }
    return list;
}

std::optional<conflict::Policy> parse_policy(Section& s, std::size_t index,
                                             const std::vector<RegionConfig>& regions) {
    conflict::Policy policy;
    const auto match = s.string("match");
    if (match) {
        s.set_entry("[[policy]] #" + std::to_string(index) + " (match = " + quote(*match) + ")");
    }
    s.reject_unknown_keys(policy_keys);

    if (!s.failed() && !match) s.fail("missing match (the glob of the keys it governs)");
    if (match && match->empty()) s.fail("match is empty");
    if (match) {
        if (auto problem = conflict::glob_problem(*match)) {
            s.fail("match is not a valid glob: " + *problem);
        }
        policy.match = *match;
    }

    const auto type = s.string("type");
    if (!s.failed() && !type) s.fail("missing type (one of " + std::string(type_names) + ")");
    if (type) {
        if (auto known = value_type_named(*type)) {
            policy.type = *known;
        } else {
            s.fail("unknown type " + quote(*type) + " (one of " + std::string(type_names) + ")");
        }
    }

    const auto route = s.string("route");
    if (route && *route != "local" && *route != "home") {
        s.fail("route must be \"local\" or \"home\", not " + quote(*route));
    }
    policy.home_routed = route && *route == "home";

    const auto home = s.string("home");
    if (!s.failed() && policy.home_routed && !home) {
        s.fail("route = \"home\" needs home (a region name or \"{tag}\")");
    }
    if (home && !policy.home_routed) s.fail("home is set but route is not \"home\"");
    if (home && policy.home_routed) {
        if (*home == "{tag}") {
            policy.home.kind = conflict::HomeRule::Kind::tag;
        } else {
            auto region = std::find_if(regions.begin(), regions.end(),
                                       [&](const RegionConfig& r) { return r.name == *home; });
            if (region == regions.end()) {
                s.fail("home " + quote(*home) +
                       " is not a region (regions: " + region_list(regions) + ")");
            } else {
                policy.home = {conflict::HomeRule::Kind::fixed, region->id};
            }
        }
    }

    const bool floored = policy.type == crdt::ValueType::bounded_counter ||
                         (policy.type == crdt::ValueType::counter && policy.home_routed);
    const auto min = s.integer("min");
    if (min && !floored) {
        s.fail("min is only allowed for bounded_counter, or counter with route = \"home\"");
    }
    if (min && *min > 0) {
        s.fail("min " + std::to_string(*min) +
               " is above 0, where a new key starts; a floor must be 0 or below");
    }
    if (min) policy.min = *min;
    if (!min && policy.type == crdt::ValueType::bounded_counter) policy.min = 0;

    if (s.failed()) return std::nullopt;
    return policy;
}

Expected<std::vector<conflict::Policy>, std::string> parse_policies(
    const toml::array& entries, std::string_view source, const std::vector<RegionConfig>& regions) {
    std::vector<conflict::Policy> policies;
    for (std::size_t i = 0; i < entries.size(); ++i) {
        Section s(*entries[i].as_table(), source, "[[policy]] #" + std::to_string(i + 1));
        auto policy = parse_policy(s, i + 1, regions);
        if (!policy) return unexpected(s.error());
        for (std::size_t j = 0; j < policies.size(); ++j) {
            if (policies[j].match == policy->match) {
                s.fail("match repeats [[policy]] #" + std::to_string(j + 1) +
                       ", so this rule could never apply");
                return unexpected(s.error());
            }
        }
        policies.push_back(std::move(*policy));
    }
    return policies;
}

// [tls]: cert, key and ca, all or none. Returns the error, if any.
std::optional<std::string> parse_tls(const toml::table& root, ClusterConfig& config) {
    const toml::node* node = root.get("tls");
    if (!node) return std::nullopt;
    if (!node->is_table()) {
        return config.source + ": tls must be a table ([tls]), not " +
               std::string(with_article(node->type()));
    }
    Section s(*node->as_table(), config.source, "[tls]");
    s.reject_unknown_keys(tls_keys);
    const auto cert = s.nonempty_string("cert");
    const auto key = s.nonempty_string("key");
    const auto ca = s.nonempty_string("ca");
    if (!s.failed() && (cert || key || ca) && !(cert && key && ca)) {
        std::string missing;
        for (auto [name, value] :
             {std::pair{"cert", &cert}, std::pair{"key", &key}, std::pair{"ca", &ca}}) {
            if (*value) continue;
            if (!missing.empty()) missing += ", ";
            missing += name;
        }
        s.fail("cert, key and ca go together (missing " + missing + ")");
    }
    if (s.failed()) return s.error();
    if (cert) {
        config.tls.cert_file = beside(config.source, *cert).string();
        config.tls.key_file = beside(config.source, *key).string();
        config.tls.ca_file = beside(config.source, *ca).string();
    }
    return std::nullopt;
}

void parse_globals(Section& s, ClusterConfig& config) {
    s.reject_unknown_keys(top_level_keys());

    const auto cluster = s.string("cluster");
    if (!s.failed() && !cluster) s.fail("missing cluster (the cluster's name)");
    if (cluster && cluster->empty()) s.fail("cluster is empty");
    if (cluster && cluster->size() > max_cluster_name) {
        s.fail("cluster is longer than " + std::to_string(max_cluster_name) + " bytes");
    }
    if (cluster) config.cluster = *cluster;

    const bool has_secret = s.has("secret");
    const bool has_secret_file = s.has("secret_file");
    if (has_secret && has_secret_file) s.fail("set secret or secret_file, not both");
    if (!has_secret && !has_secret_file) s.fail("missing secret (set secret or secret_file)");
    if (auto secret = s.nonempty_string("secret")) config.secret = *secret;
    s.nonempty_string("secret_file");  // read last, once everything else holds

    if (const auto fsync = s.string("fsync")) {
        if (*fsync == "always") {
            config.fsync = FsyncMode::always;
        } else if (*fsync == "everysec") {
            config.fsync = FsyncMode::everysec;
        } else if (*fsync == "no") {
            config.fsync = FsyncMode::no;
        } else {
            s.fail("fsync must be \"always\", \"everysec\" or \"no\", not " + quote(*fsync));
        }
    }

    for (const auto& c : u64_keys) s.count(c.key, config.*(c.field), c.min);
    for (const auto& c : u32_keys) s.count(c.key, config.*(c.field), c.min);
    if (!s.failed() && config.reconnect_max_ms < config.reconnect_min_ms) {
        s.fail("reconnect_max_ms (" + std::to_string(config.reconnect_max_ms) +
               ") is below reconnect_min_ms (" + std::to_string(config.reconnect_min_ms) + ")");
    }
    if (!s.failed() && config.peer_timeout_ms <= config.heartbeat_ms) {
        s.fail("peer_timeout_ms (" + std::to_string(config.peer_timeout_ms) +
               ") must exceed heartbeat_ms (" + std::to_string(config.heartbeat_ms) +
               "), or idle links would time out between heartbeats");
    }

    if (auto pass = s.string("requirepass")) config.requirepass = *pass;
    if (const auto level = s.string("log_level")) {
        if (std::find(log_levels.begin(), log_levels.end(), *level) == log_levels.end()) {
            s.fail("log_level must be one of trace, debug, info, warn, error, critical, off, not " +
                   quote(*level));
        }
        config.log_level = *level;
    }
}

Expected<ClusterConfig, std::string> validate(const toml::table& root, std::string_view source) {
    ClusterConfig config;
    config.source = std::string(source);
    Section top(root, source, "");
    parse_globals(top, config);

    conflict::Policy fallback;
    if (const auto name = top.string("default_policy")) {
        if (auto type = value_type_named(*name)) {
            fallback.type = *type;
            if (*type == crdt::ValueType::bounded_counter) fallback.min = 0;
        } else {
            top.fail("default_policy must be one of " + std::string(type_names) + ", not " +
                     quote(*name));
        }
    }
    if (top.failed()) return unexpected(top.error());
    if (auto problem = parse_tls(root, config)) return unexpected(*problem);

    const toml::array* region_entries = top.tables("regions");
    if (!top.failed() && (!region_entries || region_entries->empty())) {
        top.fail("missing regions (at least one [[regions]] entry)");
    }
    const toml::array* policy_entries = top.tables("policy");
    if (top.failed()) return unexpected(top.error());

    auto regions = parse_regions(*region_entries, source);
    if (!regions) return unexpected(regions.error());
    config.regions = std::move(*regions);
    for (const RegionConfig& r : config.regions) {
        if (auto added = config.directory.add(r.id, r.name); !added) {
            return unexpected(std::string(source) + ": " + added.error());
        }
    }

    std::vector<conflict::Policy> rules;
    if (policy_entries) {
        auto parsed = parse_policies(*policy_entries, source, config.regions);
        if (!parsed) return unexpected(parsed.error());
        rules = std::move(*parsed);
    }
    config.policies = conflict::PolicyTable(std::move(rules), std::move(fallback));

    if (const auto file = top.string("secret_file")) {
        const auto path = beside(source, *file);
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) {
            top.fail(
                "secret_file " + quote(path.string()) +
                (std::filesystem::exists(path, ec) ? " is not a regular file" : " does not exist"));
        } else if (auto secret = read_capped(path, max_secret_bytes); !secret) {
            top.fail("secret_file " + quote(path.string()) + " " + secret.error());
        } else {
            std::string text = std::move(*secret);
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
            if (text.empty()) top.fail("secret_file " + quote(path.string()) + " is empty");
            config.secret = std::move(text);
        }
        if (top.failed()) return unexpected(top.error());
    }
    return config;
}

std::string one_line(std::string_view text) {
    std::string out(text);
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return out;
}

}  // namespace

const RegionConfig* ClusterConfig::find_region(std::string_view name) const {
    for (const RegionConfig& r : regions) {
        if (r.name == name) return &r;
    }
    return nullptr;
}

const RegionConfig* ClusterConfig::find_region(crdt::RegionId id) const {
    for (const RegionConfig& r : regions) {
        if (r.id == id) return &r;
    }
    return nullptr;
}

std::uint64_t ClusterConfig::fingerprint() const {
    return conflict::policy_fingerprint(cluster, directory, policies);
}

std::uint64_t ClusterConfig::data_fingerprint() const {
    return conflict::policy_fingerprint("", directory, policies);
}

Expected<ClusterConfig, std::string> parse_cluster_config(std::string_view toml_text,
                                                          std::string_view source_name) {
    toml::table root;
    try {
        root = toml::parse(toml_text, source_name);
    } catch (const toml::parse_error& e) {
        const auto& at = e.source().begin;
        return unexpected(std::string(source_name) + ":" + std::to_string(at.line) + ":" +
                          std::to_string(at.column) +
                          ": TOML parse error: " + one_line(e.description()));
    }
    return validate(root, source_name);
}

Expected<ClusterConfig, std::string> load_cluster_config(const std::string& path) {
    auto text = read_capped(path, max_config_bytes);
    if (!text) return unexpected(path + ": " + text.error());
    return parse_cluster_config(*text, path);
}

}  // namespace meridian::node
