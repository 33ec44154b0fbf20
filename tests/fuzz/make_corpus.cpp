// make_fuzz_corpus: writes the seed corpus of every fuzz target, one folder per target, from the
// project's own encoders (so the seeds are valid inputs the fuzzers then mutate), plus a few
// hand-made broken ones. Deterministic: re-running it rewrites the same files.
//
//   build-fuzz/bin/make_fuzz_corpus tests/fuzz/corpus
//
// Built by tests/fuzz/CMakeLists.txt beside the fuzz targets; not run by scripts/fuzz.sh (the
// corpus is committed).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "conflict/home_table.hpp"
#include "crdt/serialization.hpp"
#include "node/peer_messages.hpp"
#include "replication/frame.hpp"
#include "replication/frame_mac.hpp"
#include "replication/log_record.hpp"
#include "replication/messages.hpp"
#include "replication/record_format.hpp"
#include "storage/backup_manifest.hpp"
#include "storage/conflict_log.hpp"
#include "storage/env.hpp"
#include "storage/sha256.hpp"
#include "storage/wal.hpp"

namespace {

namespace fs = std::filesystem;
namespace crdt = meridian::crdt;
namespace repl = meridian::replication;

class Corpus {
public:
    explicit Corpus(fs::path root) : root_(std::move(root)) {}

    void add(const std::string& target, const std::string& name, std::string_view bytes) {
        const fs::path dir = root_ / target;
        fs::create_directories(dir);
        std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out) {
            std::fprintf(stderr, "make_fuzz_corpus: cannot write %s\n", (dir / name).c_str());
            std::exit(1);
        }
        ++counts_[target];
    }

    void report() const {
        for (const auto& [target, n] : counts_) std::printf("%-32s %d files\n", target.c_str(), n);
    }

private:
    fs::path root_;
    std::map<std::string, int> counts_;
};

constexpr crdt::ReplicaId us{1, 0};
constexpr crdt::ReplicaId eu{2, 3};

std::string multibulk(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

// ---- values and records ----------------------------------------------------------------------

std::vector<crdt::Value> sample_values() {
    std::vector<crdt::Value> values;
    crdt::Register reg;
    values.emplace_back(reg.assign(us, crdt::Hlc::from_parts(1'700'000'000'000, 3), "user-7"));
    values.emplace_back(reg.assign(eu, crdt::Hlc::from_parts(1'700'000'000'001, 0), std::nullopt));

    crdt::PnCounter counter;
    crdt::PnCounter c1 = *counter.add(us, 5);
    counter.join(c1);
    crdt::PnCounter c2 = *counter.add(eu, -12);
    counter.join(c2);
    values.emplace_back(c1);
    values.emplace_back(counter);
    values.emplace_back(counter.reset());
    crdt::PnCounter sealed = counter.seal(eu, 2);  // a new owner of the counter's home
    sealed.join(*counter.add(eu, 3));
    values.emplace_back(sealed);
    values.emplace_back(counter);

    crdt::StringSet set;
    crdt::StringSet a = set.add(us, "alice");
    crdt::StringSet b = set.add(eu, "bob");
    values.emplace_back(a);
    values.emplace_back(b);
    values.emplace_back(set);
    values.emplace_back(set.remove("alice"));

    crdt::BoundedCounter bounded;
    const crdt::BoundedCounter::Floor floor{-10, us};
    crdt::BoundedCounter up = *bounded.increment(eu, 40);
    bounded.join(up);
    crdt::BoundedCounter down = *bounded.decrement(us, 7, floor);
    bounded.join(down);
    values.emplace_back(up);
    values.emplace_back(bounded);
    if (auto moved = bounded.transfer(eu, us, 20, floor)) values.emplace_back(*moved);
    if (auto handed = bounded.hand_over(us, eu)) values.emplace_back(*handed);  // a retirement's

    // A hash: an HSET, an HINCRBY, the whole hash, an HDEL's and a DEL's deltas.
    crdt::Hash hash;
    crdt::Hash name = hash.set(us, crdt::Hlc::from_parts(1'700'000'000'004, 0), "name", "ada");
    values.emplace_back(name);
    if (auto visits = hash.increment(eu, "visits", 3)) values.emplace_back(*visits);
    values.emplace_back(hash);
    values.emplace_back(hash.remove("visits"));
    values.emplace_back(hash.clear());

    // TTLs: a register with its deadline, a TTL write alone, a counter's PERSIST.
    crdt::Value expiring(crdt::Register{});
    (void)expiring.join(crdt::Value(reg.assign(us, crdt::Hlc::from_parts(1'700'000'000'002, 0), "token")));
    values.push_back(expiring.expire(us, crdt::Hlc::from_parts(1'700'000'000'002, 1), 1'700'000'030'000));
    values.push_back(expiring);
    crdt::Value counted(counter);
    values.push_back(counted.expire(eu, crdt::Hlc::from_parts(1'700'000'000'003, 0), std::nullopt));
    return values;
}

std::vector<repl::LogRecord> sample_records() {
    const auto values = sample_values();
    std::vector<repl::LogRecord> records;
    repl::LogRecord one;
    one.origin = us;
    one.lo = one.hi = 1;
    one.deltas.push_back({"session:42", values[0]});
    records.push_back(one);

    repl::LogRecord batch;
    batch.origin = eu;
    batch.lo = 7;
    batch.hi = 19;
    const char* keys[] = {"reg:a", "reg:b", "cnt:1",       "cnt:2",       "cnt:3",      "set:x",
                          "set:y", "set:z", "acct:{eu}:1", "acct:{eu}:2", "acct:{us}:3"};
    for (std::size_t i = 0; i < values.size() && i < std::size(keys); ++i)
        batch.deltas.push_back({keys[i], values[i]});
    records.push_back(batch);

    repl::LogRecord state;
    state.kind = repl::LogRecord::Kind::state;
    state.deltas = batch.deltas;
    records.push_back(state);

    repl::LogRecord merge;
    merge.kind = repl::LogRecord::Kind::vv_merge;
    merge.merged.advance(us, 12);
    merge.merged.advance(eu, 19);
    records.push_back(merge);
    return records;
}

repl::Hello sample_hello() {
    repl::Hello hello;
    hello.cluster = "demo";
    hello.replica = eu;
    hello.fingerprint = 0x0123456789abcdefULL;
    for (std::size_t i = 0; i < hello.nonce.size(); ++i)
        hello.nonce[i] = static_cast<std::uint8_t>(i * 17);
    return hello;
}

repl::Auth sample_auth() {
    repl::Auth auth;
    for (std::size_t i = 0; i < auth.proof.size(); ++i)
        auth.proof[i] = static_cast<std::uint8_t>(255 - i);
    auth.vv.advance(us, 12);
    auth.vv.advance(eu, 19);
    return auth;
}

// ---- per target ------------------------------------------------------------------------------

void peer_payloads(Corpus& corpus) {
    const std::string t = "peer_payload_fuzz";
    const auto records = sample_records();
    const auto values = sample_values();
    auto with = [](char selector, const std::string& bytes) {
        return std::string(1, selector) + bytes;
    };

    corpus.add(t, "records-one", with(0, repl::encode_records({records[0]})));
    corpus.add(t, "records-batch", with(0, repl::encode_records({records[0], records[1]})));
    corpus.add(t, "records-all-kinds", with(0, repl::encode_records(records)));
    corpus.add(t, "records-empty", with(0, repl::encode_records({})));
    corpus.add(t, "states", with(1, crdt::encode(records[1].deltas)));
    for (std::size_t i = 0; i < values.size(); ++i)
        corpus.add(t, "value-" + std::to_string(i), with(2, crdt::encode(values[i])));
    for (std::size_t i = 0; i + 1 < values.size(); i += 2) {
        const std::string a = crdt::encode(values[i]), b = crdt::encode(values[i + 1]);
        // two_values splits at payload[0] % size: choose the byte that lands on a's end.
        std::string payload = std::string(1, static_cast<char>(a.size())) + a + b;
        corpus.add(t, "two-values-" + std::to_string(i), with(3, payload));
    }
    corpus.add(t, "hello", with(4, repl::encode(sample_hello())));
    corpus.add(t, "auth", with(5, repl::encode(sample_auth())));
    corpus.add(t, "ack", with(6, repl::encode(repl::Ack{sample_auth().vv})));
    corpus.add(t, "snapshot-done", with(7, repl::encode(repl::SnapshotDone{sample_auth().vv})));
    std::string truncated = repl::encode_records(records);
    truncated.resize(truncated.size() / 2);
    corpus.add(t, "records-truncated", with(0, truncated));
    corpus.add(t, "records-huge-count", with(0, std::string("\xff\xff\xff\xff\x0f\x00", 6)));
}

// The fuzz harness's receive key (frame_decoder_fuzz.cpp): raw-mode seeds are tagged under it so
// that they get past the tag check as a real session does.
const repl::FrameKey fuzz_link_key{0x6d, 0x65, 0x72, 0x69, 0x64, 0x69, 0x61, 0x6e};

// The sealed mode's form of an encoded stream: `u8 type | u8 flags | u16 length | body` per frame,
// without the length field and tag, which the harness writes itself.
std::string sealed_form(std::string_view wire, bool tagged_after_first) {
    std::string out;
    for (int frame = 0; wire.size() >= repl::frame_header_bytes; ++frame) {
        std::uint32_t length = 0;
        for (int i = 0; i < 4; ++i)
            length |= std::uint32_t{static_cast<std::uint8_t>(wire[i])} << (8 * i);
        const std::size_t tag = tagged_after_first && frame > 0 ? repl::frame_tag_bytes : 0;
        const std::string_view body = wire.substr(repl::frame_header_bytes, length - tag);
        out.push_back(wire[4]);
        out.push_back(wire[5]);
        out.push_back(static_cast<char>(body.size()));
        out.push_back(static_cast<char>(body.size() >> 8));
        out += body;
        wire.remove_prefix(repl::frame_header_bytes + length);
    }
    return out;
}

void frames(Corpus& corpus) {
    const std::string t = "frame_decoder_fuzz";
    const auto records = sample_records();
    std::string wire;
    repl::FrameEncoder encoder;
    encoder.encode(repl::FrameType::hello, repl::encode(sample_hello()), wire);
    corpus.add(t, "hello", std::string(1, '\x3f') + wire);
    encoder.authenticate(fuzz_link_key);
    encoder.encode(repl::FrameType::auth, repl::encode(sample_auth()), wire);
    corpus.add(t, "hello-auth", std::string(1, '\x05') + wire);
    for (int i = 0; i < 4; ++i)
        encoder.encode(repl::FrameType::records, repl::encode_records(records), wire);
    encoder.encode(repl::FrameType::ack, repl::encode(repl::Ack{sample_auth().vv}), wire);
    encoder.encode(repl::FrameType::ping, "", wire);
    corpus.add(t, "session-chunked-1", std::string(1, '\x00') + wire);
    corpus.add(t, "session-chunked-7", std::string(1, '\x06') + wire);
    corpus.add(t, "session-whole", std::string(1, '\x3f') + wire);
    // The same session in sealed mode (control bit 0x40): the harness tags every frame itself.
    corpus.add(t, "sealed-session-chunked-7", std::string(1, '\x46') + sealed_form(wire, true));
    corpus.add(t, "sealed-session-whole", std::string(1, '\x7f') + sealed_form(wire, true));

    std::string huge("\x3f\xff\xff\xff\xff\x03\x00", 7);
    corpus.add(t, "huge-length", huge);
    std::string bad_type("\x3f\x00\x00\x00\x00\x63\x00", 7);
    corpus.add(t, "unknown-type", bad_type);
    std::string bad_flag("\x3f\x01\x00\x00\x00\x09\x80x", 8);
    corpus.add(t, "unknown-flag", bad_flag);
    std::string bad_lz4("\x3f\x08\x00\x00\x00\x03\x01\x80\x08\xff\xff\xff\xff\xff\xff", 15);
    corpus.add(t, "garbage-lz4", bad_lz4);

    // The compressed variant takes the payload of one compressed records frame that follows a
    // frame of the harness's fixed history.
    const std::string tc = "frame_decoder_compressed_fuzz";
    const std::string history =
        "{\"origin\":\"eu-west\",\"seq\":1234,\"key\":\"session:42\",\"value\":\"user-7\"}\n"
        "{\"origin\":\"us-east\",\"seq\":1235,\"key\":\"session:43\",\"value\":\"user-8\"}\n";
    const std::vector<std::string> payloads = {
        history, history + history, repl::encode_records(records), std::string(300, 'a'),
        "{\"origin\":\"eu-west\",\"seq\":1236,\"key\":\"session:44\"}\n"};
    for (std::size_t i = 0; i < payloads.size(); ++i) {
        repl::FrameEncoder e;
        std::string first, second;
        e.encode(repl::FrameType::records, history, first);
        e.encode(repl::FrameType::records, payloads[i], second);
        if (second.size() > repl::frame_header_bytes && (second[5] & repl::frame_flag_compressed))
            corpus.add(tc, "payload-" + std::to_string(i), second.substr(repl::frame_header_bytes));
    }
    corpus.add(tc, "empty-block", std::string("\x00\x00", 2));
    corpus.add(tc, "oversized-raw-length", std::string("\xff\xff\xff\xff\x0f\x10xyz", 9));
}

void wal(Corpus& corpus) {
    const std::string t = "wal_reader_fuzz";
    meridian::node::Env& env = meridian::node::default_env();
    const fs::path scratch = fs::temp_directory_path() / "meridian-fuzz-corpus-wal";
    fs::remove_all(scratch);
    const std::string dir = (scratch / "wal").string();
    const std::string meta = "m";
    auto writer = meridian::node::WalWriter::open(env, dir, 1, meta);
    if (!writer) {
        std::fprintf(stderr, "make_fuzz_corpus: %s\n", writer.error().c_str());
        std::exit(1);
    }
    for (const auto& record : sample_records()) (void)writer->append(repl::encode_record(record));
    (void)writer->append("");
    (void)writer->append(std::string(200, 'x'));
    if (!writer->flush()) std::exit(1);
    auto file = env.read_file(meridian::node::wal_segment_path(dir, 1));
    fs::remove_all(scratch);
    if (!file) std::exit(1);
    const std::string& segment = *file;
    const std::size_t header = 8 + 8 + 4 + meta.size() + 4;
    const std::string body = segment.substr(header);

    corpus.add(t, "segment", std::string(1, '\x00') + segment);
    corpus.add(t, "segment-after-valid", std::string(1, '\x02') + segment);
    corpus.add(t, "records", std::string(1, '\x01') + body);
    corpus.add(t, "records-then-segment", std::string(1, '\x05') + body);
    corpus.add(t, "records-after-valid", std::string(1, '\x03') + body);
    std::string torn = body.substr(0, body.size() - 5);
    corpus.add(t, "torn-tail", std::string(1, '\x01') + torn);
    std::string flipped = body;
    flipped[flipped.size() / 3] ^= 0x10;
    corpus.add(t, "flipped-byte", std::string(1, '\x01') + flipped);
    std::string flipped_then_more = flipped;
    corpus.add(t, "flipped-byte-not-last", std::string(1, '\x05') + flipped_then_more);
    std::string bad_length = body;
    bad_length[0] ^= 0x40;
    corpus.add(t, "bad-length", std::string(1, '\x01') + bad_length);
    corpus.add(t, "header-only", std::string(1, '\x00') + segment.substr(0, header));
    corpus.add(t, "short-header", std::string(1, '\x00') + segment.substr(0, 11));
}

void resp(Corpus& corpus) {
    const std::string t = "resp_parser_fuzz";
    const std::string loose("\x00\x00", 2), tight("\x93\x10", 2), chunky("\x00\x07", 2);
    const std::vector<std::pair<std::string, std::string>> inputs = {
        {"ping", multibulk({"PING"})},
        {"set-get", multibulk({"SET", "k", "v"}) + multibulk({"GET", "k"})},
        {"pipeline", multibulk({"INCRBY", "cnt:1", "-5"}) + multibulk({"SADD", "set:a", "x", "y"}) +
                         multibulk({"SMEMBERS", "set:a"}) + multibulk({"WAIT", "2", "100"})},
        {"expiry", multibulk({"SET", "lock", "me", "NX", "PX", "30000"}) +
                       multibulk({"EXPIRE", "cnt:1", "10", "GT"}) + multibulk({"PTTL", "lock"}) +
                       multibulk({"GETEX", "lock", "PERSIST"})},
        {"hash-multi", multibulk({"MULTI"}) + multibulk({"HSET", "hash:1", "f", "v", "g", "w"}) +
                           multibulk({"HINCRBY", "hash:1", "n", "-3"}) + multibulk({"EXEC"})},
        {"binary", multibulk({"SET", std::string("k\0\r\n", 4), std::string(70, '\xff')})},
        {"inline", "PING\r\nSET  k   v\r\nECHO \"quoted arg\"\n"},
        {"inline-nul", std::string("GET k\0ignored\r\n", 15)},
        {"empty-lines", "\r\n\r\n*0\r\n*-1\r\n" + multibulk({"PING"})},
        {"huge-bulk", "*2\r\n$3\r\nGET\r\n$1073741824\r\n"},
        {"huge-count", "*2147483648\r\n"},
        {"negative-bulk", "*1\r\n$-5\r\n"},
        {"bad-count", "*x\r\n"},
        {"bulk-without-crlf", "*1\r\n$4\r\nPINGxx"},
        {"partial", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc"},
        {"unterminated-inline", std::string(100, 'A')},
        {"leading-plus", "+OK\r\n-ERR x\r\n:12\r\n"},
    };
    for (const auto& [name, bytes] : inputs) {
        corpus.add(t, name, loose + bytes);
        corpus.add(t, name + "-tight", tight + bytes);
    }
    corpus.add(t, "pipeline-chunked", chunky + inputs[2].second);
}

void cluster_configs(Corpus& corpus) {
    const std::string t = "cluster_config_fuzz";
    const std::string regions =
        "[[regions]]\nid = 1\nname = \"us-east\"\nclient_listen = \"127.0.0.1:7001\"\n"
        "peer_listen = \"127.0.0.1:8001\"\nadmin_listen = \"127.0.0.1:9001\"\n"
        "data_dir = \"data/us-east\"\n\n"
        "[[regions]]\nid = 2\nname = \"eu-west\"\nclient_listen = \"127.0.0.1:7002\"\n"
        "peer_listen = \"127.0.0.1:8002\"\ndata_dir = \"data/eu-west\"\n";
    const std::string head = "cluster = \"demo\"\nsecret = \"change-me\"\n";
    const std::string policies =
        "[[policy]]\nmatch = \"balance:*\"\ntype = \"counter\"\n\n"
        "[[policy]]\nmatch = \"acct:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = \"{tag}\"\n"
        "min = 0\n\n"
        "[[policy]]\nmatch = \"tags:*\"\ntype = \"set\"\n\n"
        "[[policy]]\nmatch = \"stock:*\"\ntype = \"bounded_counter\"\nmin = -5\n\n"
        "[[policy]]\nmatch = \"cfg:[a-c]?x\"\ntype = \"lww\"\nroute = \"home\"\nhome = "
        "\"eu-west\"\n";
    const std::string tunables =
        "fsync = \"always\"\ndefault_policy = \"lww\"\nwal_retention_bytes = 1048576\n"
        "wal_segment_bytes = 65536\nsnapshot_every_records = 1000\nsnapshot_every_seconds = 5\n"
        "max_clients = 100\nmax_bulk_bytes = 1024\nmax_args = 16\nrequirepass = \"pw\"\n"
        "client_timeout_ms = 5000\nforward_timeout_ms = 200\nrights_timeout_ms = 100\n"
        "batch_bytes = 4096\nheartbeat_ms = 100\npeer_timeout_ms = 500\nrelay_delay_ms = 50\n"
        "reconnect_min_ms = 10\nreconnect_max_ms = 100\nlog_level = \"debug\"\n";
    corpus.add(t, "minimal", head + regions);
    corpus.add(t, "policies", head + "\n" + policies + "\n" + regions);
    corpus.add(t, "tunables", head + tunables + "\n" + regions);
    corpus.add(t, "everything",
               head + tunables + "\n" + policies + "\n" + regions +
                   "\n[tls]\ncert = \"node.crt\"\nkey = \"node.key\"\nca = \"ca.crt\"\n");
    corpus.add(t, "secret-file", "cluster = \"demo\"\nsecret_file = \"secret.txt\"\n" + regions);
    corpus.add(t, "duplicate-id", head + regions + "\n[[regions]]\nid = 2\nname = \"ap\"\n");
    corpus.add(t, "unknown-key", head + "fsynk = \"always\"\n" + regions);
    corpus.add(t, "bad-home",
               head +
                   "[[policy]]\nmatch = \"a*\"\ntype = \"counter\"\nroute = \"home\"\n"
                   "home = \"mars\"\n\n" +
                   regions);
    corpus.add(t, "parse-error", head + "[[regions]\nid = = 1\n");
    corpus.add(t, "inline-tables",
               "cluster = 'x'\nsecret = 'y'\nregions = [{id = 1, name = 'a'}]\n");
}

// Valid manifests, whole; the broken variants mostly without their checksum line, which the
// harness's sealed reading adds, so they reach the rule they break.
void backup_manifests(Corpus& corpus) {
    namespace node = meridian::node;
    const std::string t = "backup_manifest_fuzz";
    node::BackupManifest m;
    m.cluster = "demo";
    m.region = "us-east";
    m.region_id = 1;
    m.data_fingerprint = 0x9e3779b97f4a7c15ull;
    m.created_unix_ms = 1'700'000'000'000;
    m.snapshot_lsn = m.consistent_lsn = m.end_lsn = 1;
    m.consistent_unix_ms = m.end_unix_ms = m.created_unix_ms;
    m.files = {{"snapshot/00000000000000000001.snap", 96, node::sha256_hex("snapshot")}};
    const std::string minimal = node::encode_manifest(m);
    corpus.add(t, "minimal", minimal);

    m.cluster = "prod \"east\" \\ é";
    m.region = "eu-west";
    m.region_id = 2;
    m.snapshot_lsn = 100;
    m.consistent_lsn = 150;
    m.end_lsn = 420;
    m.end_unix_ms += 60'000;
    m.version_vector.advance(us, 77);
    m.version_vector.advance(eu, 301);
    m.files = {{"snapshot/00000000000000000100.snap", 5000, node::sha256_hex("snapshot")},
               {"wal/00000000000000000090.wal", 65536, node::sha256_hex("wal 90")},
               {"wal/00000000000000000300.wal", 1234, node::sha256_hex("wal 300")}};
    const std::string full = node::encode_manifest(m);
    corpus.add(t, "full", full);

    const std::string body = full.substr(0, full.rfind("# sha256 "));
    const auto edit = [&](std::string_view from, std::string_view to) {
        std::string out = body;
        const std::size_t at = out.find(from);
        if (at == std::string::npos) {
            std::fprintf(stderr, "make_fuzz_corpus: manifest seed lacks %.*s\n",
                         static_cast<int>(from.size()), from.data());
            std::exit(1);
        }
        return out.replace(at, from.size(), to);
    };
    corpus.add(t, "body", body);
    corpus.add(t, "truncated", full.substr(0, full.size() / 2));
    std::string flipped = full;
    flipped[flipped.size() / 3] ^= 0x20;
    corpus.add(t, "flipped-byte", flipped);
    corpus.add(t, "wrong-format",
               edit("format = \"meridian-backup/1\"", "format = \"meridian-backup/2\""));
    corpus.add(t, "unknown-key", edit("region_id = 2", "region_id = 2\nregoin = \"x\""));
    corpus.add(t, "mistyped", edit("end_lsn = 420", "end_lsn = \"420\""));
    corpus.add(t, "negative", edit("bytes = 1234", "bytes = -1234"));
    corpus.add(t, "too-large", edit("epoch = 3", "epoch = 65536"));
    corpus.add(t, "lsn-order", edit("consistent_lsn = 150", "consistent_lsn = 99"));
    corpus.add(t, "path-escape", edit("wal/00000000000000000300.wal", "wal/../../etc/passwd"));
    corpus.add(t, "duplicate-path",
               edit("wal/00000000000000000300.wal", "wal/00000000000000000090.wal"));
    corpus.add(t, "two-snapshots",
               edit("wal/00000000000000000300.wal", "snapshot/00000000000000000300.snap"));
    corpus.add(t, "bad-sha256", edit(node::sha256_hex("wal 90"), "ABC"));
    corpus.add(t, "inline-files",
               "format = \"meridian-backup/1\"\ncluster = 'c'\nregion = 'r'\nregion_id = 0\n"
               "data_fingerprint = '0000000000000000'\ncreated_unix_ms = 0\nsnapshot_lsn = 1\n"
               "consistent_lsn = 1\nend_lsn = 2\nconsistent_unix_ms = 0\nend_unix_ms = 0\n"
               "version_vector = [{region = 1, epoch = 0, seq = 1}]\n"
               "files = [{path = 'snapshot/00000000000000000001.snap', bytes = 0, sha256 = '" +
                   node::sha256_hex("") + "'}]\n");
    corpus.add(t, "not-toml", "[[files]\npath = = 1\n");
}

}  // namespace

// Conflict log files: one as ConflictLog writes it, a torn one, and entries of every shape.
void conflict_logs(Corpus& corpus) {
    const std::string t = "conflict_log_fuzz";
    namespace node = meridian::node;
    using meridian::crdt::Hlc;
    using meridian::crdt::WriteStamp;
    const auto entry = [](std::string key, std::optional<std::string> value, std::uint64_t ms) {
        return node::ConflictEntry{Hlc::from_parts(ms + 10, 1),
                                   std::move(key),
                                   std::move(value),
                                   0,
                                   WriteStamp{Hlc::from_parts(ms, 0), {1, 0}},
                                   WriteStamp{Hlc::from_parts(ms, 3), {2, 1}}};
    };
    std::string file(node::kConflictLogMagic);
    file += node::frame_conflict_entry(entry("balance:alice", "100", 1'700'000'000'000));
    file += node::frame_conflict_entry(entry("profile:7", std::nullopt, 1'700'000'000'500));
    file += node::frame_conflict_entry(entry("", std::string(300, 'v'), 1));
    corpus.add(t, "three-entries", file);
    corpus.add(t, "torn-tail", file.substr(0, file.size() - 5));
    corpus.add(t, "header-only", std::string(node::kConflictLogMagic));
    corpus.add(t, "wrong-header", "MRDNWAL1" + file.substr(8));
}

void home_messages(Corpus& corpus) {
    namespace conflict = meridian::conflict;
    namespace node = meridian::node;
    const std::string t = "home_message_fuzz";
    auto with = [](char selector, const std::string& bytes) {
        return std::string(1, selector) + bytes;
    };
    crdt::VersionVector vv;
    vv.advance(us, 12);
    vv.advance(eu, 19);
    const conflict::HomeEntry moved{1, 2, 3, vv};
    const conflict::Retirement retired{us, 2, 3};
    const std::vector<node::HomeMessage> messages = {
        conflict::FailoverProposal{7, 2, 3, {conflict::HomeEntry{1, 1, 0, {}}}, true},
        conflict::FailoverVote{7, true, 0, 250, vv, "", {moved}},
        conflict::FailoverVote{7, false, 4, 0, {}, "epoch 3 is not above 4"},
        conflict::FailoverOutcome{7, 3, {1}},
        conflict::LeaseRequest{8, {moved}, {retired}},
        conflict::LeaseGrant{8, {1, 2}},
        node::HomeCommits{{moved}, {retired}},
        conflict::RetirementReport{retired, 12},
    };
    std::string sequence;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const std::string bytes = node::encode(messages[i]);
        corpus.add(t, "message-" + std::to_string(i), with(0, bytes));
        if (bytes.size() < 256)
            sequence += std::string(1, static_cast<char>(i)) +
                        std::string(1, static_cast<char>(bytes.size())) + bytes;
    }
    corpus.add(t, "sequence", with(6, sequence));
    corpus.add(t, "durable",
               with(1, node::encode(conflict::HomeDurable{
                           {moved}, {conflict::HomePromise{2, 5, 3, false}}, {retired}})));
    corpus.add(t, "forward",
               with(2, node::encode(node::ForwardRequest{
                           {us, 99, 1}, {"DECRBY", "acct:{us-east}:1", "5"}, 1, 3})));
    corpus.add(t, "forward-reply",
               with(3, node::encode(node::ForwardReply{{us, 99, 1}, ":5\r\n", crdt::Dot{eu, 4}})));
    corpus.add(t, "rights", with(4, node::encode(node::RightsRequest{3, eu, "bounded:x", 10})));
    corpus.add(t, "rights-reply",
               with(5, node::encode(node::RightsReply{3, 10, crdt::Dot{us, 8}})));
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR   (e.g. tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    Corpus corpus(argv[1]);
    peer_payloads(corpus);
    frames(corpus);
    wal(corpus);
    resp(corpus);
    cluster_configs(corpus);
    backup_manifests(corpus);
    conflict_logs(corpus);
    home_messages(corpus);
    corpus.report();
    return 0;
}
