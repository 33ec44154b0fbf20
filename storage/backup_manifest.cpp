#include "storage/backup_manifest.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <exception>
#include <limits>
#include <optional>
#include <set>
#include <span>

#include "storage/sha256.hpp"
#include "storage/toml_words.hpp"

namespace meridian::node {

namespace {

using namespace std::string_view_literals;

// The first line names the file, so a truncated manifest is told apart from some other file.
constexpr std::string_view kFirstLine = "# Meridian backup manifest";
constexpr std::string_view kChecksumPrefix = "# sha256 ";
constexpr std::size_t kShaDigits = 64;
constexpr std::size_t kLsnDigits = 20;
constexpr std::size_t kMaxNameBytes = 255;  // the cluster file's limit for the cluster name
constexpr std::uint64_t kMaxInteger = std::numeric_limits<std::int64_t>::max();
constexpr std::uint64_t kMaxId = std::numeric_limits<crdt::RegionId>::max();

constexpr std::array kTopKeys = {"format"sv,
                                 "cluster"sv,
                                 "region"sv,
                                 "region_id"sv,
                                 "data_fingerprint"sv,
                                 "created_unix_ms"sv,
                                 "snapshot_lsn"sv,
                                 "consistent_lsn"sv,
                                 "end_lsn"sv,
                                 "consistent_unix_ms"sv,
                                 "end_unix_ms"sv,
                                 "version_vector"sv,
                                 "files"sv};
constexpr std::array kEntryKeys = {"region"sv, "epoch"sv, "seq"sv};
constexpr std::array kFileKeys = {"path"sv, "bytes"sv, "sha256"sv};

// ---- writing -----------------------------------------------------------------------------------

std::string toml_string(std::string_view text) {
    std::string out = "\"";
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    out += '"';
    return out;
}

std::string hex16(std::uint64_t value) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(value));
    return buf;
}

// "2023-11-14T22:13:20.000Z": UTC, proleptic Gregorian (Howard Hinnant's civil_from_days), with
// none of time_t's or gmtime's range limits.
std::string utc_time(std::uint64_t unix_ms) {
    const auto days = static_cast<std::int64_t>(unix_ms / 86'400'000);
    const std::uint64_t ms = unix_ms % 86'400'000;
    const std::int64_t z = days + 719'468;
    const std::int64_t era = z / 146'097;
    const std::int64_t doe = z - era * 146'097;
    const std::int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02llu:%02llu:%02llu.%03lluZ",
                  static_cast<long long>(year), static_cast<long long>(month),
                  static_cast<long long>(day), static_cast<unsigned long long>(ms / 3'600'000),
                  static_cast<unsigned long long>(ms / 60'000 % 60),
                  static_cast<unsigned long long>(ms / 1'000 % 60),
                  static_cast<unsigned long long>(ms % 1'000));
    return buf;
}

void put(std::string& out, std::string_view key, std::uint64_t value) {
    out.append(key).append(" = ").append(std::to_string(value)).append("\n");
}

void put_time(std::string& out, std::string_view key, std::uint64_t unix_ms) {
    out.append(key).append(" = ").append(std::to_string(unix_ms));
    out.append("  # ").append(utc_time(unix_ms)).append("\n");
}

// ---- reading: words for messages ---------------------------------------------------------------

std::string one_line(std::string_view text) {
    std::string out(text);
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
    return out;
}

bool is_lower_hex(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- reading: checksum and TOML ----------------------------------------------------------------

// Everything before the checksum line, once the line is found and matches.
Expected<std::string_view, std::string> checked_body(std::string_view text) {
    const auto missing = [&]() -> Unexpected<std::string> {
        const bool ours = text.starts_with(kFirstLine) || kFirstLine.starts_with(text);
        if (!ours) {
            return unexpected("not a Meridian backup manifest (it does not start with " +
                              quote(kFirstLine) + ")");
        }
        return unexpected(std::string("manifest checksum missing — the manifest is truncated"));
    };
    if (text.empty() || text.back() != '\n') return missing();
    const std::size_t newline = text.size() >= 2 ? text.rfind('\n', text.size() - 2) : text.npos;
    const std::size_t start = newline == text.npos ? 0 : newline + 1;
    const std::string_view line = text.substr(start, text.size() - 1 - start);
    if (!line.starts_with(kChecksumPrefix) || line.size() != kChecksumPrefix.size() + kShaDigits) {
        return missing();
    }
    const std::string_view body = text.substr(0, start);
    if (line.substr(kChecksumPrefix.size()) != sha256_hex(body)) {
        return unexpected(std::string("manifest checksum mismatch — the manifest is corrupted"));
    }
    return body;
}

std::string describe(const toml::parse_error& e) {
    const auto& at = e.source().begin;
    return "TOML parse error at line " + std::to_string(at.line) + ", column " +
           std::to_string(at.column) + ": " + one_line(e.description());
}

Expected<toml::table, std::string> parse_toml(std::string_view text) {
#if TOML_EXCEPTIONS
    try {
        return toml::parse(text);
    } catch (const toml::parse_error& e) {
        return unexpected(describe(e));
    } catch (const std::exception& e) {  // out of memory: still an answer, not a crash
        return unexpected("TOML parse failed: " + one_line(e.what()));
    }
#else
    toml::parse_result result = toml::parse(text);
    if (!result) return unexpected(describe(result.error()));
    return std::move(result).table();
#endif
}

// ---- reading: fields ---------------------------------------------------------------------------

// Reads the keys of one table. The first problem is kept and every later read becomes a no-op,
// so validation reads as straight-line code checked once at the end.
class Fields {
public:
    Fields(const toml::table& table, std::string where) : table_(table), where_(std::move(where)) {}

    bool failed() const { return error_.has_value(); }
    const std::string& error() const { return *error_; }

    void fail(std::string_view problem) {
        if (!error_) error_ = where_ + std::string(problem);
    }

    // Fails on the first key, in file order, that `known` lacks.
    void reject_unknown(std::span<const std::string_view> known) {
        if (failed()) return;
        const toml::key* first = nullptr;
        for (auto&& [key, value] : table_) {
            if (std::find(known.begin(), known.end(), key.str()) != known.end()) continue;
            if (!first || key.source().begin < first->source().begin) first = &key;
        }
        if (first) fail("unknown key " + quote(first->str()));
    }

    std::string string(std::string_view key) {
        const toml::node* node = typed(key, toml::node_type::string);
        return node ? std::string(node->as_string()->get()) : std::string();
    }

    // A name for people: not empty, bounded, printable.
    std::string name(std::string_view key) {
        std::string value = string(key);
        if (failed()) return value;
        if (value.empty()) {
            fail(std::string(key) + " is empty");
        } else if (value.size() > kMaxNameBytes) {
            fail(std::string(key) + " is longer than " + std::to_string(kMaxNameBytes) + " bytes");
        } else if (std::any_of(value.begin(), value.end(), [](char c) {
                       return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                   })) {
            fail(std::string(key) + " " + quote(value) + " contains a control character");
        }
        return value;
    }

    std::uint64_t integer(std::string_view key, std::uint64_t max = kMaxInteger) {
        const toml::node* node = typed(key, toml::node_type::integer);
        if (!node) return 0;
        const std::int64_t value = node->as_integer()->get();
        if (value < 0) {
            fail(std::string(key) + " must not be negative, got " + std::to_string(value));
            return 0;
        }
        if (static_cast<std::uint64_t>(value) > max) {
            fail(std::string(key) + " must be at most " + std::to_string(max) + ", got " +
                 std::to_string(value));
            return 0;
        }
        return static_cast<std::uint64_t>(value);
    }

    const toml::array* array(std::string_view key) {
        const toml::node* node = typed(key, toml::node_type::array);
        return node ? node->as_array() : nullptr;
    }

private:
    const toml::node* typed(std::string_view key, toml::node_type type) {
        if (failed()) return nullptr;
        const toml::node* node = table_.get(key);
        if (!node) {
            fail("missing key " + std::string(key));
            return nullptr;
        }
        if (node->type() != type) {
            fail(std::string(key) + " must be " + std::string(with_article(type)) + ", not " +
                 std::string(with_article(node->type())));
            return nullptr;
        }
        return node;
    }

    const toml::table& table_;
    std::string where_;
    std::optional<std::string> error_;
};

// ---- reading: the parts ------------------------------------------------------------------------

struct FileName {
    bool snapshot = false;
    std::uint64_t lsn = 0;
};

// Only the two shapes a backup holds, so no path can leave the backup directory.
Expected<FileName, std::string> classify_path(std::string_view path) {
    if (path.empty()) return unexpected(std::string("path is empty"));
    if (path.front() == '/') return unexpected("path " + quote(path) + " is absolute");
    for (std::size_t start = 0; start <= path.size();) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        if (path.substr(start, end - start) == "..") {
            return unexpected("path " + quote(path) + " leaves the backup directory (..)");
        }
        start = end + 1;
    }
    FileName name;
    std::string_view rest;
    std::string_view suffix;
    if (path.starts_with("snapshot/")) {
        name.snapshot = true;
        rest = path.substr(9);
        suffix = ".snap";
    } else if (path.starts_with("wal/")) {
        rest = path.substr(4);
        suffix = ".wal";
    }
    const bool shaped = !suffix.empty() && rest.size() == kLsnDigits + suffix.size() &&
                        rest.ends_with(suffix) &&
                        std::all_of(rest.begin(), rest.begin() + kLsnDigits,
                                    [](char c) { return c >= '0' && c <= '9'; });
    if (!shaped) {
        return unexpected("path " + quote(path) +
                          " is neither snapshot/<20 digits>.snap nor wal/<20 digits>.wal");
    }
    const auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + kLsnDigits, name.lsn);
    if (ec != std::errc() || name.lsn == 0) {
        return unexpected("path " + quote(path) + " names no valid lsn");
    }
    return name;
}

void read_version_vector(Fields& top, BackupManifest& m, std::optional<std::string>& error) {
    const toml::array* entries = top.array("version_vector");
    if (!entries) return;
    std::set<crdt::ReplicaId> seen;
    for (std::size_t i = 0; i < entries->size(); ++i) {
        const std::string where = "version_vector entry " + std::to_string(i + 1) + ": ";
        const toml::node& node = *entries->get(i);
        if (!node.is_table()) {
            error = where + "must be a table {region, epoch, seq}, not " +
                    std::string(with_article(node.type()));
            return;
        }
        Fields e(*node.as_table(), where);
        e.reject_unknown(kEntryKeys);
        const crdt::ReplicaId replica{static_cast<crdt::RegionId>(e.integer("region", kMaxId)),
                                      static_cast<std::uint16_t>(e.integer("epoch", kMaxId))};
        const std::uint64_t seq = e.integer("seq");
        if (!e.failed() && seq == 0) e.fail("seq must be at least 1");
        if (!e.failed() && !seen.insert(replica).second) {
            e.fail("replica " + std::to_string(replica.region) + "." +
                   std::to_string(replica.epoch) + " appears twice");
        }
        if (e.failed()) {
            error = e.error();
            return;
        }
        m.version_vector.advance(replica, seq);
    }
}

void read_files(Fields& top, BackupManifest& m, std::optional<std::string>& error) {
    const toml::array* entries = top.array("files");
    if (!entries) return;
    std::set<std::string, std::less<>> paths;
    std::optional<std::size_t> snapshot_at;
    std::uint64_t last_wal_lsn = 0;
    for (std::size_t i = 0; i < entries->size(); ++i) {
        const std::string where = "[[files]] entry " + std::to_string(i + 1) + ": ";
        const toml::node& node = *entries->get(i);
        if (!node.is_table()) {
            error = where + "must be a table {path, bytes, sha256}, not " +
                    std::string(with_article(node.type()));
            return;
        }
        Fields f(*node.as_table(), where);
        f.reject_unknown(kFileKeys);
        BackupFile file;
        file.path = f.string("path");
        file.bytes = f.integer("bytes");
        file.sha256 = f.string("sha256");
        if (!f.failed() && (file.sha256.size() != kShaDigits || !is_lower_hex(file.sha256))) {
            f.fail("sha256 must be 64 lowercase hex digits, not " + quote(file.sha256));
        }
        if (!f.failed()) {
            if (auto name = classify_path(file.path); !name) {
                f.fail(name.error());
            } else if (!paths.insert(file.path).second) {
                f.fail("path " + quote(file.path) + " is listed twice");
            } else if (name->snapshot && snapshot_at) {
                f.fail("a second snapshot file (a backup holds exactly one)");
            } else if (name->snapshot && i != 0) {
                f.fail("the snapshot file must come first, before the WAL segments");
            } else if (name->snapshot && name->lsn != m.snapshot_lsn) {
                f.fail("snapshot " + quote(file.path) + " does not match snapshot_lsn " +
                       std::to_string(m.snapshot_lsn));
            } else if (!name->snapshot && name->lsn <= last_wal_lsn) {
                f.fail("WAL segment " + quote(file.path) + " is out of lsn order");
            } else if (name->snapshot) {
                snapshot_at = i;
            } else {
                last_wal_lsn = name->lsn;
            }
        }
        if (f.failed()) {
            error = f.error();
            return;
        }
        m.files.push_back(std::move(file));
    }
    if (!snapshot_at) error = "no snapshot file in [[files]] (a backup holds exactly one)";
}

Expected<BackupManifest, std::string> validate(const toml::table& root) {
    // The format first: some other TOML file should say so, not list its keys as unknown.
    const toml::node* format = root.get("format");
    if (!format) return unexpected(std::string("not a Meridian backup manifest (format missing)"));
    if (!format->is_string()) {
        return unexpected("not a Meridian backup manifest (format is " +
                          std::string(with_article(format->type())) + ")");
    }
    const std::string_view name = format->as_string()->get();
    if (name != kManifestFormat) {
        if (name.starts_with("meridian-backup/")) {
            return unexpected("unsupported backup manifest format " + quote(name) +
                              " (this build reads " + std::string(kManifestFormat) + ")");
        }
        return unexpected("not a Meridian backup manifest (format " + quote(name) + ", expected " +
                          quote(kManifestFormat) + ")");
    }

    BackupManifest m;
    Fields top(root, "");
    top.reject_unknown(kTopKeys);
    m.cluster = top.name("cluster");
    m.region = top.name("region");
    m.region_id = static_cast<crdt::RegionId>(top.integer("region_id", kMaxId));
    const std::string fingerprint = top.string("data_fingerprint");
    if (!top.failed()) {
        const auto [ptr, ec] = std::from_chars(
            fingerprint.data(), fingerprint.data() + fingerprint.size(), m.data_fingerprint, 16);
        if (fingerprint.size() != 16 || !is_lower_hex(fingerprint) || ec != std::errc()) {
            top.fail("data_fingerprint must be 16 lowercase hex digits, not " + quote(fingerprint));
        }
    }
    m.created_unix_ms = top.integer("created_unix_ms");
    m.snapshot_lsn = top.integer("snapshot_lsn");
    m.consistent_lsn = top.integer("consistent_lsn");
    m.end_lsn = top.integer("end_lsn");
    m.consistent_unix_ms = top.integer("consistent_unix_ms");
    m.end_unix_ms = top.integer("end_unix_ms");
    if (!top.failed() && m.snapshot_lsn == 0) top.fail("snapshot_lsn must be at least 1");
    if (!top.failed() && m.consistent_lsn < m.snapshot_lsn) {
        top.fail("consistent_lsn " + std::to_string(m.consistent_lsn) + " is below snapshot_lsn " +
                 std::to_string(m.snapshot_lsn));
    }
    if (!top.failed() && m.end_lsn < m.consistent_lsn) {
        top.fail("end_lsn " + std::to_string(m.end_lsn) + " is below consistent_lsn " +
                 std::to_string(m.consistent_lsn));
    }
    std::optional<std::string> error;
    read_version_vector(top, m, error);
    if (!error) read_files(top, m, error);
    if (top.failed()) return unexpected(top.error());
    if (error) return unexpected(std::move(*error));
    return m;
}

}  // namespace

std::string encode_manifest(const BackupManifest& m) {
    std::string out;
    out.append(kFirstLine)
        .append(" (")
        .append(kManifestFormat)
        .append("): what this backup holds and how far it restores.\n");
    out.append(
        "# Written by Meridian; do not edit: the last line is the SHA-256 of every byte "
        "above it.\n\n");
    out.append("format = ").append(toml_string(kManifestFormat)).append("\n");
    out.append("cluster = ").append(toml_string(m.cluster)).append("\n");
    out.append("region = ").append(toml_string(m.region)).append("\n");
    put(out, "region_id", m.region_id);
    out.append("data_fingerprint = \"").append(hex16(m.data_fingerprint)).append("\"\n");
    put_time(out, "created_unix_ms", m.created_unix_ms);
    out.append("\n# The snapshot's lsn, the earliest restore point, one past the last record.\n");
    put(out, "snapshot_lsn", m.snapshot_lsn);
    put(out, "consistent_lsn", m.consistent_lsn);
    put(out, "end_lsn", m.end_lsn);
    put_time(out, "consistent_unix_ms", m.consistent_unix_ms);
    put_time(out, "end_unix_ms", m.end_unix_ms);
    out.append(
        "\n# At end_lsn, for each replica (region, epoch): its writes 1..seq are in here.\n");
    if (m.version_vector.empty()) {
        out.append("version_vector = []\n");
    } else {
        out.append("version_vector = [\n");
        for (const auto& e : m.version_vector.entries()) {
            out.append("    { region = ").append(std::to_string(e.replica.region));
            out.append(", epoch = ").append(std::to_string(e.replica.epoch));
            out.append(", seq = ").append(std::to_string(e.seq)).append(" },\n");
        }
        out.append("]\n");
    }
    for (const BackupFile& file : m.files) {
        out.append("\n[[files]]\n");
        out.append("path = ").append(toml_string(file.path)).append("\n");
        put(out, "bytes", file.bytes);
        out.append("sha256 = ").append(toml_string(file.sha256)).append("\n");
    }
    out.append("\n");
    const std::string checksum = sha256_hex(out);
    out.append(kChecksumPrefix).append(checksum).append("\n");
    return out;
}

Expected<BackupManifest, std::string> parse_manifest(std::string_view text) {
    if (text.size() > kManifestMaxBytes) {
        return unexpected("manifest of " + std::to_string(text.size()) +
                          " bytes is above the limit of " + std::to_string(kManifestMaxBytes));
    }
    auto body = checked_body(text);
    if (!body) return unexpected(body.error());
    auto root = parse_toml(*body);
    if (!root) return unexpected(root.error());
    return validate(*root);
}

}  // namespace meridian::node
