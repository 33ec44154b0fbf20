#include "storage/backup_manifest.hpp"

#include <rapidcheck.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <limits>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "crdt/property.hpp"
#include "storage/sha256.hpp"
#include "storage/snapshot_file.hpp"
#include "storage/wal.hpp"

namespace {

using meridian::crdt::ReplicaId;
using meridian::node::BackupFile;
using meridian::node::BackupManifest;
using meridian::node::encode_manifest;
using meridian::node::parse_manifest;
using meridian::node::sha256_hex;

constexpr std::uint64_t kMaxToml = std::numeric_limits<std::int64_t>::max();
constexpr std::string_view kTruncated = "manifest checksum missing — the manifest is truncated";
constexpr std::string_view kCorrupted = "manifest checksum mismatch — the manifest is corrupted";

std::string snapshot_file(std::uint64_t lsn) {
    return meridian::node::snapshot_path("snapshot", lsn);
}
std::string wal_file(std::uint64_t lsn) {
    return meridian::node::wal_segment_path("wal", lsn);
}

BackupManifest sample() {
    BackupManifest m;
    m.cluster = "prod";
    m.region = "eu-west";
    m.region_id = 2;
    m.data_fingerprint = 0x0123456789abcdefull;
    m.created_unix_ms = 1'700'000'000'000;
    m.snapshot_lsn = 100;
    m.consistent_lsn = 150;
    m.end_lsn = 420;
    m.consistent_unix_ms = 1'699'999'990'000;
    m.end_unix_ms = 1'700'000'000'123;
    m.version_vector.advance(ReplicaId{1, 0}, 77);
    m.version_vector.advance(ReplicaId{2, 3}, 301);
    m.files = {
        {snapshot_file(100), 5000, sha256_hex("snapshot")},
        {wal_file(90), 65536, sha256_hex("wal 90")},
        {wal_file(300), 1234, sha256_hex("wal 300")},
    };
    return m;
}

// The manifest without its checksum line.
std::string body_of(const std::string& text) {
    const std::size_t last = text.rfind('\n', text.size() - 2);
    return text.substr(0, last + 1);
}

std::string seal(const std::string& body) {
    return body + "# sha256 " + sha256_hex(body) + "\n";
}

// The sample's body with one piece of text replaced (which must be there), sealed again.
std::string edited(std::string_view from, std::string_view to) {
    std::string body = body_of(encode_manifest(sample()));
    const std::size_t at = body.find(from);
    REQUIRE(at != std::string::npos);
    body.replace(at, from.size(), to);
    return seal(body);
}

std::string error_of(const std::string& text) {
    auto parsed = parse_manifest(text);
    if (parsed) return "(parsed)";
    CHECK(parsed.error().find('\n') == std::string::npos);
    return parsed.error();
}

// ---- generators ----

rc::Gen<std::string> gen_name() {
    // Quotes, backslashes, '#' and multi-byte UTF-8 test the string escaping.
    const std::vector<std::string> pieces = {"a",  "Z", "7", "-", "_", " ",  ".",         "\"",
                                             "\\", "#", "=", "'", "é", "日", "\U0001F600"};
    return rc::gen::map(rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(pieces)),
                        [](const std::vector<std::string>& parts) {
                            std::string out = "r";
                            for (const std::string& p : parts) {
                                if (out.size() + p.size() > 255) break;
                                out += p;
                            }
                            return out;
                        });
}

rc::Gen<std::uint64_t> gen_count() {
    return rc::gen::oneOf(rc::gen::inRange<std::uint64_t>(0, 1000),
                          rc::gen::inRange<std::uint64_t>(0, kMaxToml), rc::gen::just(kMaxToml));
}

rc::Gen<std::string> gen_sha256() {
    return rc::gen::container<std::string>(64, rc::gen::elementOf(std::string("0123456789abcdef")));
}

rc::Gen<BackupManifest> gen_manifest() {
    return rc::gen::exec([] {
        BackupManifest m;
        m.cluster = *gen_name();
        m.region = *gen_name();
        m.region_id = *rc::gen::arbitrary<std::uint16_t>();
        m.data_fingerprint = *rc::gen::arbitrary<std::uint64_t>();
        m.created_unix_ms = *gen_count();
        std::vector<std::uint64_t> lsns = {*gen_count(), *gen_count(), *gen_count()};
        std::sort(lsns.begin(), lsns.end());
        m.snapshot_lsn = std::max<std::uint64_t>(lsns[0], 1);
        m.consistent_lsn = std::max(lsns[1], m.snapshot_lsn);
        m.end_lsn = std::max(lsns[2], m.consistent_lsn);
        m.consistent_unix_ms = *gen_count();
        m.end_unix_ms = *gen_count();
        const auto entries = *rc::gen::container<
            std::vector<std::tuple<std::uint16_t, std::uint16_t, std::uint64_t>>>(
            rc::gen::tuple(rc::gen::arbitrary<std::uint16_t>(), rc::gen::arbitrary<std::uint16_t>(),
                           rc::gen::inRange<std::uint64_t>(1, kMaxToml)));
        for (const auto& [region, epoch, seq] : entries) {
            m.version_vector.advance(ReplicaId{region, epoch}, seq);
        }
        m.files.push_back({snapshot_file(m.snapshot_lsn), *gen_count(), *gen_sha256()});
        const auto wal_lsns = *rc::gen::container<std::set<std::uint64_t>>(rc::gen::oneOf(
            rc::gen::inRange<std::uint64_t>(1, 10'000),
            rc::gen::inRange<std::uint64_t>(1, std::numeric_limits<std::uint64_t>::max())));
        for (const std::uint64_t lsn : wal_lsns) {
            m.files.push_back({wal_file(lsn), *gen_count(), *gen_sha256()});
        }
        return m;
    });
}

}  // namespace

TEST_CASE("a manifest reads back exactly as written") {
    const BackupManifest m = sample();
    const std::string text = encode_manifest(m);
    auto parsed = parse_manifest(text);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == m);
    CHECK(encode_manifest(*parsed) == text);
}

TEST_CASE("the manifest is readable TOML that says what it is and checksums itself") {
    const std::string text = encode_manifest(sample());
    INFO(text);
    CHECK(text.starts_with("# Meridian backup manifest (meridian-backup/1)"));
    CHECK(text.find("\nformat = \"meridian-backup/1\"\n") != std::string::npos);
    CHECK(text.find("\ndata_fingerprint = \"0123456789abcdef\"\n") != std::string::npos);
    CHECK(text.find("\ncreated_unix_ms = 1700000000000  # 2023-11-14T22:13:20.000Z\n") !=
          std::string::npos);
    CHECK(text.find("\nend_unix_ms = 1700000000123  # 2023-11-14T22:13:20.123Z\n") !=
          std::string::npos);
    CHECK(text.find("{ region = 2, epoch = 3, seq = 301 }") != std::string::npos);
    CHECK(text.find("\n[[files]]\npath = \"snapshot/00000000000000000100.snap\"\n") !=
          std::string::npos);
    const std::string body = body_of(text);
    CHECK(text == body + "# sha256 " + sha256_hex(body) + "\n");
}

TEST_CASE("times far from now still get a calendar date in the comments") {
    BackupManifest m = sample();
    m.created_unix_ms = 0;
    m.consistent_unix_ms = 951'782'400'000;  // a leap day
    m.end_unix_ms = kMaxToml;
    const std::string text = encode_manifest(m);
    CHECK(text.find("created_unix_ms = 0  # 1970-01-01T00:00:00.000Z") != std::string::npos);
    CHECK(text.find("# 2000-02-29T00:00:00.000Z") != std::string::npos);
    CHECK(text.find("# 292278994-08-17T07:12:55.807Z") != std::string::npos);
    CHECK(parse_manifest(text).has_value());
}

TEST_CASE("generated manifests round-trip, and any flipped byte or cut is refused") {
    meridian::test::check_property(
        [] {
            const BackupManifest m = *gen_manifest();
            const std::string text = encode_manifest(m);
            RC_LOG() << text;
            auto parsed = parse_manifest(text);
            if (!parsed) RC_FAIL(parsed.error());
            RC_ASSERT(*parsed == m);
            RC_ASSERT(encode_manifest(*parsed) == text);

            const std::size_t spot = *rc::gen::inRange<std::size_t>(0, text.size());
            const auto mask = *rc::gen::inRange<int>(1, 256);
            std::string flipped = text;
            flipped[spot] = static_cast<char>(flipped[spot] ^ mask);
            RC_ASSERT(!parse_manifest(flipped).has_value());
            auto cut = parse_manifest(std::string_view(text).substr(0, spot));
            RC_ASSERT(!cut.has_value());
            RC_ASSERT(cut.error() == kTruncated);
        },
        300);
}

TEST_CASE("a manifest cut at any byte is refused as truncated") {
    const std::string text = encode_manifest(sample());
    for (std::size_t size = 0; size < text.size(); ++size) {
        auto parsed = parse_manifest(std::string_view(text).substr(0, size));
        INFO("cut to " << size << " bytes");
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error() == kTruncated);
    }
}

TEST_CASE("a manifest with any byte flipped is refused") {
    const std::string text = encode_manifest(sample());
    const std::string body = body_of(text);
    for (std::size_t at = 0; at < text.size(); ++at) {
        for (const int mask : {0x01, 0x20, 0x80}) {
            std::string flipped = text;
            flipped[at] = static_cast<char>(flipped[at] ^ mask);
            auto parsed = parse_manifest(flipped);
            INFO("byte " << at << " ^ " << mask);
            REQUIRE_FALSE(parsed.has_value());
            // Inside the body the checksum catches it. The newline ending the body, and the
            // checksum line itself, make a line that no longer matches or reads as a checksum.
            if (at + 1 < body.size()) CHECK(parsed.error() == kCorrupted);
        }
    }
}

TEST_CASE("a bad or missing checksum line is reported as such") {
    const std::string text = encode_manifest(sample());
    const std::string body = body_of(text);
    CHECK(error_of(body) == kTruncated);
    CHECK(error_of(text + "\n") == kTruncated);
    CHECK(error_of(text + "# a comment\n") == kTruncated);
    CHECK(error_of(body + "# sha256 " + std::string(64, '0') + "\n") == kCorrupted);
    CHECK(error_of(body + "# sha256 " + std::string(63, '0') + "\n") == kTruncated);
    std::string upper = text;
    for (std::size_t i = body.size() + 9; i < upper.size(); ++i)
        upper[i] = static_cast<char>(std::toupper(upper[i]));
    if (upper != text) CHECK(error_of(upper) == kCorrupted);
}

TEST_CASE("some other file is not mistaken for a truncated manifest") {
    CHECK(error_of("cluster = \"demo\"\n")
              .starts_with("not a Meridian backup manifest (it does not start with"));
    CHECK(error_of(std::string("\x89PNG\r\n", 6)).starts_with("not a Meridian backup manifest"));
    CHECK(error_of("") == kTruncated);
    CHECK(error_of("# Meridian") == kTruncated);
}

TEST_CASE("a manifest of another format or none is refused by name") {
    CHECK(error_of(edited("format = \"meridian-backup/1\"", "format = \"tar\"")) ==
          "not a Meridian backup manifest (format \"tar\", expected \"meridian-backup/1\")");
    CHECK(error_of(edited("format = \"meridian-backup/1\"\n", "")) ==
          "not a Meridian backup manifest (format missing)");
    CHECK(error_of(edited("format = \"meridian-backup/1\"", "format = 1")) ==
          "not a Meridian backup manifest (format is an integer)");
    CHECK(error_of(edited("format = \"meridian-backup/1\"", "format = \"meridian-backup/2\"")) ==
          "unsupported backup manifest format \"meridian-backup/2\" (this build reads "
          "meridian-backup/1)");
    CHECK(error_of(seal("not = [toml\n")).starts_with("TOML parse error at line 1"));
}

TEST_CASE("missing, mistyped and unknown keys are refused by name") {
    CHECK(error_of(edited("end_lsn = 420\n", "")) == "missing key end_lsn");
    CHECK(error_of(edited("snapshot_lsn = 100", "snapshot_lsn = \"100\"")) ==
          "snapshot_lsn must be an integer, not a string");
    CHECK(error_of(edited("cluster = \"prod\"", "cluster = 7")) ==
          "cluster must be a string, not an integer");
    CHECK(error_of(edited("bytes = 5000", "bytes = 5000.0")) ==
          "[[files]] entry 1: bytes must be an integer, not a floating-point number");
    CHECK(error_of(edited("path = \"wal/00000000000000000090.wal\"\n", "")) ==
          "[[files]] entry 2: missing key path");
    CHECK(error_of(edited("cluster = \"prod\"", "clutser = \"prod\"")) ==
          "unknown key \"clutser\"");
    CHECK(error_of(edited("region_id = 2", "region_id = 2\nregionid = 2")) ==
          "unknown key \"regionid\"");
    CHECK(error_of(edited("bytes = 1234", "bytes = 1234\nmode = 420")) ==
          "[[files]] entry 3: unknown key \"mode\"");
    CHECK(error_of(edited("{ region = 1, epoch = 0, seq = 77 }",
                          "{ region = 1, epoch = 0, seq = 77, at = 5 }")) ==
          "version_vector entry 1: unknown key \"at\"");
    CHECK(error_of(edited("version_vector = [", "version_vector = [\n    1,")) ==
          "version_vector entry 1: must be a table {region, epoch, seq}, not an integer");
    CHECK(error_of(edited("version_vector = [", "vv = [")) == "unknown key \"vv\"");
    // A [files] table among [[files]] entries: toml++ words that one.
    CHECK(error_of(edited("[[files]]\npath = \"snapshot", "[files]\npath = \"snapshot"))
              .starts_with("TOML parse error"));
}

TEST_CASE("negative and too-large integers are refused") {
    CHECK(error_of(edited("created_unix_ms = 1700000000000", "created_unix_ms = -1")) ==
          "created_unix_ms must not be negative, got -1");
    CHECK(error_of(edited("bytes = 1234", "bytes = -5")) ==
          "[[files]] entry 3: bytes must not be negative, got -5");
    CHECK(error_of(edited("region_id = 2", "region_id = 65536")) ==
          "region_id must be at most 65535, got 65536");
    CHECK(error_of(edited("epoch = 3", "epoch = 70000")) ==
          "version_vector entry 2: epoch must be at most 65535, got 70000");
    CHECK(error_of(edited("seq = 77", "seq = 0")) ==
          "version_vector entry 1: seq must be at least 1");
    // Beyond TOML's 64-bit signed integers toml++ refuses the document itself.
    CHECK(error_of(edited("end_lsn = 420", "end_lsn = 9223372036854775808"))
              .starts_with("TOML parse error"));
}

TEST_CASE("lsns must run snapshot_lsn <= consistent_lsn <= end_lsn, from 1") {
    BackupManifest m = sample();
    m.snapshot_lsn = 0;
    m.files[0].path = snapshot_file(0);
    CHECK(error_of(encode_manifest(m)) == "snapshot_lsn must be at least 1");
    CHECK(error_of(edited("consistent_lsn = 150", "consistent_lsn = 99")) ==
          "consistent_lsn 99 is below snapshot_lsn 100");
    CHECK(error_of(edited("end_lsn = 420", "end_lsn = 149")) ==
          "end_lsn 149 is below consistent_lsn 150");
    m = sample();
    m.consistent_lsn = m.end_lsn = m.snapshot_lsn;
    CHECK(parse_manifest(encode_manifest(m)).has_value());
}

TEST_CASE("names must be non-empty, short and printable, the fingerprint 16 hex digits") {
    CHECK(error_of(edited("cluster = \"prod\"", "cluster = \"\"")) == "cluster is empty");
    CHECK(error_of(edited("region = \"eu-west\"", "region = \"eu\\nwest\"")) ==
          "region \"eu\\u000awest\" contains a control character");
    CHECK(error_of(edited("cluster = \"prod\"", "cluster = \"" + std::string(256, 'c') + "\"")) ==
          "cluster is longer than 255 bytes");
    CHECK(error_of(edited("\"0123456789abcdef\"", "\"0123456789ABCDEF\"")) ==
          "data_fingerprint must be 16 lowercase hex digits, not \"0123456789ABCDEF\"");
    CHECK(error_of(edited("\"0123456789abcdef\"", "\"123\"")) ==
          "data_fingerprint must be 16 lowercase hex digits, not \"123\"");
}

TEST_CASE("file paths that could leave the backup directory or are not backup files are refused") {
    const std::string wal = "\"wal/00000000000000000300.wal\"";
    const auto path_error = [&](const std::string& path) {
        return error_of(edited(wal, "\"" + path + "\""));
    };
    CHECK(path_error("/etc/passwd") == "[[files]] entry 3: path \"/etc/passwd\" is absolute");
    CHECK(path_error("wal/../../00000000000000000300.wal") ==
          "[[files]] entry 3: path \"wal/../../00000000000000000300.wal\" leaves the backup "
          "directory (..)");
    CHECK(path_error("..") == "[[files]] entry 3: path \"..\" leaves the backup directory (..)");
    CHECK(path_error("") == "[[files]] entry 3: path is empty");
    for (const std::string bad :
         {"wal/300.wal", "wal/00000000000000000300.WAL", "WAL/00000000000000000300.wal",
          "wal//0000000000000000300.wal", "wal/0000000000000000030x.wal",
          "wal/00000000000000000300.wal.sha256", "./wal/00000000000000000300.wal",
          "snapshot/00000000000000000300.wal", "wal/+0000000000000000300.wal"}) {
        CHECK(path_error(bad) == "[[files]] entry 3: path \"" + bad +
                                     "\" is neither snapshot/<20 digits>.snap nor "
                                     "wal/<20 digits>.wal");
    }
    CHECK(path_error("wal/00000000000000000000.wal") ==
          "[[files]] entry 3: path \"wal/00000000000000000000.wal\" names no valid lsn");
    CHECK(path_error("wal/99999999999999999999.wal") ==
          "[[files]] entry 3: path \"wal/99999999999999999999.wal\" names no valid lsn");
}

TEST_CASE("the file list holds exactly one snapshot, first, then WAL segments in lsn order") {
    BackupManifest m = sample();
    m.files.push_back(m.files[2]);
    CHECK(error_of(encode_manifest(m)) ==
          "[[files]] entry 4: path \"wal/00000000000000000300.wal\" is listed twice");

    m = sample();
    m.files.push_back(m.files[0]);
    m.files.back().path = snapshot_file(400);
    CHECK(error_of(encode_manifest(m)) ==
          "[[files]] entry 4: a second snapshot file (a backup holds exactly one)");

    m = sample();
    m.files.erase(m.files.begin());
    CHECK(error_of(encode_manifest(m)) ==
          "no snapshot file in [[files]] (a backup holds exactly one)");

    m = sample();
    std::swap(m.files[0], m.files[1]);
    CHECK(error_of(encode_manifest(m)) ==
          "[[files]] entry 2: the snapshot file must come first, before the WAL segments");

    m = sample();
    m.files[0].path = snapshot_file(99);
    CHECK(error_of(encode_manifest(m)) ==
          "[[files]] entry 1: snapshot \"snapshot/00000000000000000099.snap\" does not match "
          "snapshot_lsn 100");

    m = sample();
    std::swap(m.files[1], m.files[2]);
    CHECK(error_of(encode_manifest(m)) ==
          "[[files]] entry 3: WAL segment \"wal/00000000000000000090.wal\" is out of lsn order");

    m = sample();
    m.files.clear();
    CHECK(error_of(encode_manifest(m)) == "missing key files");
}

TEST_CASE("a file's sha256 must be 64 lowercase hex digits") {
    BackupManifest m = sample();
    const std::string good = m.files[1].sha256;
    for (const std::string& bad : {good.substr(1), good + "0", std::string(64, 'A'),
                                   std::string(63, '0') + "g", std::string()}) {
        m.files[1].sha256 = bad;
        CHECK(error_of(encode_manifest(m)) ==
              "[[files]] entry 2: sha256 must be 64 lowercase hex digits, not \"" + bad + "\"");
    }
}

TEST_CASE("a replica listed twice in the version vector is refused") {
    CHECK(error_of(
              edited("{ region = 2, epoch = 3, seq = 301 }",
                     "{ region = 2, epoch = 3, seq = 301 }, { region = 1, epoch = 0, seq = 9 }")) ==
          "version_vector entry 3: replica 1.0 appears twice");
    BackupManifest m = sample();
    m.version_vector = {};
    auto parsed = parse_manifest(encode_manifest(m));
    REQUIRE(parsed.has_value());
    CHECK(parsed->version_vector.empty());
}

TEST_CASE("files must be an array of tables holding the snapshot") {
    BackupManifest m = sample();
    m.files.clear();
    const std::string body = body_of(encode_manifest(m));
    CHECK(error_of(seal(body + "files = []\n")) ==
          "no snapshot file in [[files]] (a backup holds exactly one)");
    CHECK(error_of(seal(body + "files = 3\n")) == "files must be an array, not an integer");
    CHECK(error_of(seal(body + "files = [\"snapshot/00000000000000000100.snap\"]\n")) ==
          "[[files]] entry 1: must be a table {path, bytes, sha256}, not a string");
    CHECK(error_of(seal(body + "[files]\npath = \"snapshot/00000000000000000100.snap\"\n")) ==
          "files must be an array, not a table");
}
