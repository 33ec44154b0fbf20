#include "node/recovery.hpp"

#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "crdt/show.hpp"
#include "node/database.hpp"
#include "storage/fault_env.hpp"
#include "storage/snapshot_file.hpp"
#include "node/snapshotter.hpp"
#include "storage/wal.hpp"

namespace {

using meridian::conflict::Policy;
using meridian::conflict::PolicyTable;
using meridian::conflict::Writer;
using meridian::crdt::Hlc;
using meridian::crdt::Register;
using meridian::crdt::ReplicaId;
using meridian::crdt::Value;
using meridian::crdt::ValueType;
using meridian::crdt::VersionVector;
using meridian::node::Database;
using meridian::node::Env;
using meridian::node::FsyncMode;
using meridian::node::join_path;
using meridian::node::Keyspace;
using meridian::node::list_segments;
using meridian::node::list_snapshots;
using meridian::node::LogStore;
using meridian::node::LogStoreOptions;
using meridian::node::recover;
using meridian::node::Recovered;
using meridian::node::Snapshotter;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::flip_byte;
using meridian::node::testing::size_of;
using meridian::node::testing::TempDir;
using meridian::replication::KeyDelta;
using meridian::replication::LogRecord;

constexpr ReplicaId self{1, 0};
constexpr ReplicaId peer{2, 0};
constexpr std::uint64_t start_ms = 1'700'000'000'000;

using Contents = std::map<std::string, Value>;

// Throws: usable from Catch2 test cases and from RapidCheck properties alike.
void ensure(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error(what);
}

Policy rule(std::string match, ValueType type, std::optional<std::int64_t> min = std::nullopt) {
    Policy p;
    p.match = std::move(match);
    p.type = type;
    p.min = min;
    return p;
}

const PolicyTable& policies() {
    static const PolicyTable table({rule("c:*", ValueType::counter), rule("s:*", ValueType::set),
                                    rule("b:*", ValueType::bounded_counter, -10)},
                                   rule("", ValueType::lww));
    return table;
}

// Every key's state, tombstones included.
Contents contents(const Keyspace& keyspace) {
    Contents out;
    std::uint64_t cursor = 0;
    do {
        cursor = keyspace.scan(cursor, 64, [&](std::string_view key, const Value& value) {
            out.emplace(std::string(key), value);
        });
    } while (cursor != 0);
    return out;
}

std::string no_reply(const Database::Committed&) {
    return {};
}

Recovered recover_ok(Env& env, const std::string& data_dir, bool repair = false) {
    auto recovered = recover(env, data_dir, repair, start_ms);
    ensure(recovered.has_value(), recovered.has_value() ? "" : "recover: " + recovered.error());
    return std::move(*recovered);
}

// One run of a region over a data directory, started as the node starts: recover, open the log
// where recovery left it, a database with the recovered clock, a snapshotter.
struct Region {
    std::string data_dir;
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
        boost::asio::make_work_guard(io);
    Keyspace keyspace;
    std::unique_ptr<LogStore> log;
    std::unique_ptr<Database> db;
    std::unique_ptr<Snapshotter> snapshotter;
    std::uint64_t physical_ms = start_ms;
    std::vector<std::string> warnings;  // recovery's

    // Small segments by default, so that even short runs have several.
    Region(Env& env, std::string dir, FsyncMode fsync, std::uint64_t segment_bytes = 1500)
        : data_dir(std::move(dir)) {
        Recovered recovered = recover_ok(env, data_dir);
        warnings = recovered.warnings;
        keyspace = std::move(recovered.keyspace);
        LogStoreOptions o;
        o.wal_dir = join_path(data_dir, "wal");
        o.fsync = fsync;
        o.segment_bytes = segment_bytes;
        o.checkpoint_every = 8;
        auto opened = LogStore::open(env, io, o, std::move(recovered.log));
        ensure(opened.has_value(), opened.has_value() ? "" : "open log: " + opened.error());
        log = std::move(*opened);
        db = std::make_unique<Database>(
            keyspace, policies(), *log, self, self, recovered.clock, [this] { return physical_ms; },
            [] { return std::uint64_t{0}; });
        snapshotter =
            std::make_unique<Snapshotter>(env, io, join_path(data_dir, "snapshot"), keyspace, *log,
                                          [] { return std::uint64_t{0}; });
    }

    std::uint64_t seq() const { return log->version_vector().get(self); }

    void set(const std::string& key, std::string value) {
        Database::KeyWrite w{key, [&value](Value& state, const Writer& writer) {
                                 return meridian::conflict::set_value(state, writer, value);
                             }};
        ensure(db->write(std::span(&w, 1), no_reply).has_value(), "SET " + key + " refused");
        ++physical_ms;
    }

    std::uint64_t snapshot() {
        auto taken = snapshotter->take_now();
        ensure(taken.has_value(), taken.has_value() ? "" : "snapshot: " + taken.error());
        return *taken;
    }

    template <class Pred>
    void run_until(Pred done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!done()) {
            ensure(std::chrono::steady_clock::now() < deadline, "timed out running the loop");
            io.run_one_for(std::chrono::milliseconds(10));
        }
    }
};

// ---- a random workload -------------------------------------------------------------

struct Op {
    enum Kind { set, del, incrby, sadd, srem, bounded, mset, remote, snapshot, flush, kinds };
    int kind = set;
    int key = 0;
    int amount = 0;
    int member = 0;
};

void showValue(const Op& op, std::ostream& os) {
    static const char* names[] = {"SET",     "DEL",  "INCRBY", "SADD",     "SREM",
                                  "BOUNDED", "MSET", "REMOTE", "SNAPSHOT", "FLUSH"};
    os << names[op.kind] << "(key " << op.key << ", amount " << op.amount << ", member "
       << op.member << ")";
}

rc::Gen<Op> gen_op() {
    return rc::gen::apply(
        [](int kind, int key, int amount, int member) {
            return Op{kind, key, amount, member};
        },
        rc::gen::inRange(0, static_cast<int>(Op::kinds)), rc::gen::inRange(0, 12),
        rc::gen::inRange(-20, 21), rc::gen::inRange(0, 5));
}

const std::vector<std::string>& all_keys() {
    static const std::vector<std::string> keys{"k0",  "k1",  "k2",  "k3",  "c:0", "c:1",
                                               "c:2", "s:0", "s:1", "s:2", "b:0", "b:1"};
    return keys;
}

// Runs one command; refusals (DEL of a bounded counter, a decrement without rights) are part of
// the workload and must change nothing.
void run_op(Region& r, const Op& op) {
    using namespace meridian::conflict;
    const auto& keys = all_keys();
    const std::string& lww = keys[op.key % 4];
    const std::string& counter = keys[4 + op.key % 3];
    const std::string& set_key = keys[7 + op.key % 3];
    const std::string& bounded = keys[10 + op.key % 2];
    const std::string value = "v" + std::to_string(op.amount) + "." + std::to_string(r.seq());
    const std::vector<std::string> members{"m" + std::to_string(op.member),
                                           "m" + std::to_string((op.member + 1) % 5)};
    std::vector<Database::KeyWrite> writes;
    switch (op.kind) {
        case Op::set:
            writes.push_back(
                {lww, [&](Value& s, const Writer& w) { return set_value(s, w, value); }});
            break;
        case Op::del:
            writes.push_back({keys[op.key % keys.size()],
                              [](Value& s, const Writer& w) { return delete_value(s, w); }});
            break;
        case Op::incrby:
        case Op::bounded: {
            const std::string& key = op.kind == Op::incrby ? counter : bounded;
            const Policy& policy = r.db->policy(key);
            writes.push_back({key, [&](Value& s, const Writer& w) {
                                  return add_to_counter(s, policy, w, op.amount);
                              }});
            break;
        }
        case Op::sadd:
            writes.push_back(
                {set_key, [&](Value& s, const Writer& w) { return add_members(s, w, members); }});
            break;
        case Op::srem:
            writes.push_back({set_key, [&](Value& s, const Writer& w) {
                                  return remove_members(s, w, std::span(members).first(1));
                              }});
            break;
        case Op::mset:
            writes.push_back(
                {lww, [&](Value& s, const Writer& w) { return set_value(s, w, value); }});
            writes.push_back({keys[(op.key + 1) % 4], [&](Value& s, const Writer& w) {
                                  return set_value(s, w, value + "'");
                              }});
            break;
        case Op::remote: {
            // A peer's write, its clock up to 20 s ahead of or behind ours.
            auto record = std::make_shared<LogRecord>();
            record->origin = peer;
            record->lo = record->hi = r.log->version_vector().get(peer) + 1;
            Register reg;
            const Hlc stamp = Hlc::from_parts(r.physical_ms + 1000 * op.amount, 0);
            record->deltas.push_back(
                KeyDelta{lww, Value(reg.assign(peer, stamp, value + "@peer"))});
            r.db->apply(record);
            break;
        }
        case Op::snapshot:
            r.snapshot();
            break;
        case Op::flush:
            r.log->flush();
            break;
    }
    if (!writes.empty()) (void)r.db->write(writes, no_reply);
    ++r.physical_ms;
}

struct Outcome {
    Contents contents;
    VersionVector vv;
    std::uint64_t next_lsn = 0;
};

// Runs ops as one run of the region, then stops it the way a killed process stops: whatever was
// written to the OS stays, nothing else is done.
Outcome run(Env& env, const std::string& data_dir, FsyncMode fsync, const std::vector<Op>& ops,
            const Contents* expected_at_start) {
    Region r(env, data_dir, fsync);
    if (expected_at_start) RC_ASSERT(contents(r.keyspace) == *expected_at_start);
    for (const Op& op : ops) run_op(r, op);
    r.log->flush();
    return {contents(r.keyspace), r.log->version_vector(), r.log->appended_lsn()};
}

void require_clock_past_stamps(const Recovered& recovered) {
    for (const auto& [key, value] : contents(recovered.keyspace)) {
        if (const auto* reg = value.as<Register>(); reg && reg->written()) {
            RC_ASSERT(recovered.clock > reg->stamp().time);
        }
    }
}

std::string only_segment(Env& env, const std::string& data_dir) {
    auto segments = list_segments(env, join_path(data_dir, "wal"));
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() == 1);
    return segments->front().path;
}

bool mentions(const std::vector<std::string>& warnings, const std::string& text) {
    for (const auto& w : warnings)
        if (w.find(text) != std::string::npos) return true;
    return false;
}

}  // namespace

// ---- recovery equals the live state -------------------------------------------------

TEST_CASE("the state after recovery equals the live state for any workload") {
    rc::prop("recover", [] {
        const auto fsync = *rc::gen::element(FsyncMode::always, FsyncMode::everysec, FsyncMode::no);
        const auto first = *rc::gen::container<std::vector<Op>>(gen_op());
        const auto second = *rc::gen::container<std::vector<Op>>(gen_op());
        TempDir dir;
        FaultEnv env;
        env.skip_disk_syncs();

        // Two runs: the second starts from what the first left, as a restarted node does.
        const Outcome one = run(env, dir.path(), fsync, first, nullptr);
        const Outcome two = run(env, dir.path(), fsync, second, &one.contents);

        const Recovered recovered = recover_ok(env, dir.path());
        RC_ASSERT(recovered.warnings.empty());
        RC_ASSERT(contents(recovered.keyspace) == two.contents);
        RC_ASSERT(recovered.log.vv == two.vv);
        RC_ASSERT(recovered.log.next_lsn == two.next_lsn);
        RC_ASSERT(recovered.deltas_refused == 0u);
        require_clock_past_stamps(recovered);
    });
}

TEST_CASE("a snapshot taken in chunks while writes go on recovers to the live state") {
    TempDir dir;
    FaultEnv env;
    env.skip_disk_syncs();
    Contents live;
    VersionVector vv;
    {
        Region r(env, dir.path(), FsyncMode::everysec);
        for (int i = 0; i < 300; ++i) r.set("key" + std::to_string(i), "before");
        bool done = false;
        std::uint64_t snapshot_lsn = 0;
        r.snapshotter->start([&](meridian::Expected<std::uint64_t, std::string> result) {
            REQUIRE(result.has_value());
            snapshot_lsn = *result;
            done = true;
        });
        // Writes interleave with the snapshot's chunks on the loop.
        int i = 0;
        r.run_until([&] {
            ++i;
            r.set("key" + std::to_string(i % 400), "during" + std::to_string(i));
            r.log->flush();
            return done;
        });
        CHECK(snapshot_lsn == 301);
        for (int j = 0; j < 20; ++j) r.set("after" + std::to_string(j), "x");
        r.log->flush();
        live = contents(r.keyspace);
        vv = r.log->version_vector();
    }
    const Recovered recovered = recover_ok(env, dir.path());
    CHECK(recovered.snapshot_lsn == 301);
    CHECK(contents(recovered.keyspace) == live);
    CHECK(recovered.log.vv == vv);
}

// ---- damage --------------------------------------------------------------------------

TEST_CASE("a torn record at the WAL's tail is cut with a warning naming the file") {
    TempDir dir;
    FaultEnv env;
    env.skip_disk_syncs();
    {
        Region r(env, dir.path(), FsyncMode::everysec);
        for (int i = 0; i < 10; ++i) r.set("t" + std::to_string(i), "value" + std::to_string(i));
        r.log->flush();
    }
    const std::string segment = only_segment(env, dir.path());
    const auto full = size_of(segment);
    std::filesystem::resize_file(segment, full - 3);  // the last record loses its end

    const Recovered recovered = recover_ok(env, dir.path());
    INFO("warnings: " << (recovered.warnings.empty() ? "none" : recovered.warnings[0]));
    REQUIRE(recovered.warnings.size() == 1);
    CHECK(mentions(recovered.warnings, segment));
    CHECK(recovered.log.vv.get(self) == 9);
    CHECK(recovered.log.next_lsn == 10);
    const Contents got = contents(recovered.keyspace);
    CHECK(got.size() == 9);
    CHECK(got.count("t8") == 1);
    CHECK(got.count("t9") == 0);
    CHECK(size_of(segment) < full - 3);  // cut back to the last whole record

    // The cut is for good: the next start sees a clean WAL and writes continue after it.
    {
        Region again(env, dir.path(), FsyncMode::everysec);
        CHECK(again.warnings.empty());
        again.set("t9", "rewritten");
        again.log->flush();
        CHECK(again.seq() == 10);
    }
    const Recovered last = recover_ok(env, dir.path());
    CHECK(last.warnings.empty());
    CHECK(contents(last.keyspace).size() == 10);
    CHECK(last.log.vv.get(self) == 10);
}

TEST_CASE(
    "a flipped byte in the middle of the WAL stops recovery, naming the file, until repaired") {
    TempDir dir;
    FaultEnv env;
    env.skip_disk_syncs();
    {
        Region r(env, dir.path(), FsyncMode::everysec);
        for (int i = 0; i < 10; ++i) r.set("t" + std::to_string(i), "value" + std::to_string(i));
        r.log->flush();
    }
    const std::string segment = only_segment(env, dir.path());
    flip_byte(segment, size_of(segment) / 2);

    auto refused = recover(env, dir.path(), false, start_ms);
    REQUIRE_FALSE(refused.has_value());
    INFO(refused.error());
    CHECK(refused.error().find(segment) != std::string::npos);
    CHECK(refused.error().find("offset") != std::string::npos);
    // Refusing changed nothing: a second attempt fails the same way.
    auto again = recover(env, dir.path(), false, start_ms);
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error() == refused.error());

    const Recovered repaired = recover_ok(env, dir.path(), true);
    CHECK(mentions(repaired.warnings, segment));
    const std::uint64_t kept = repaired.log.vv.get(self);
    CHECK(kept >= 1);
    CHECK(kept < 10);
    CHECK(repaired.log.next_lsn == kept + 1);
    // Exactly the writes before the damage survive.
    const Contents got = contents(repaired.keyspace);
    CHECK(got.size() == kept);
    for (std::uint64_t i = 0; i < kept; ++i) CHECK(got.count("t" + std::to_string(i)) == 1);

    // After the repair the WAL reads cleanly and takes new writes.
    {
        Region r(env, dir.path(), FsyncMode::everysec);
        r.set("new", "value");
        r.log->flush();
    }
    const Recovered after = recover_ok(env, dir.path());
    CHECK(after.warnings.empty());
    CHECK(after.log.vv.get(self) == kept + 1);
}

TEST_CASE("a damaged newest snapshot falls back to the older one with a warning") {
    TempDir dir;
    FaultEnv env;
    env.skip_disk_syncs();
    Contents live;
    std::uint64_t older = 0;
    std::uint64_t newer = 0;
    {
        Region r(env, dir.path(), FsyncMode::everysec);
        for (int i = 0; i < 20; ++i) r.set("a" + std::to_string(i), "1");
        older = r.snapshot();
        for (int i = 0; i < 20; ++i) r.set("a" + std::to_string(i * 2), "2");
        newer = r.snapshot();
        for (int i = 0; i < 5; ++i) r.set("b" + std::to_string(i), "3");
        r.log->flush();
        live = contents(r.keyspace);
    }
    REQUIRE(older < newer);
    auto snapshots = list_snapshots(env, join_path(dir.path(), "snapshot"));
    REQUIRE(snapshots.has_value());
    REQUIRE(snapshots->size() == 2);
    REQUIRE(snapshots->front().lsn == newer);
    const std::string newest = snapshots->front().path;
    flip_byte(newest, size_of(newest) / 2);

    const Recovered recovered = recover_ok(env, dir.path());
    CHECK(mentions(recovered.warnings, newest));
    CHECK(recovered.snapshot_lsn == older);
    CHECK(contents(recovered.keyspace) == live);

    SECTION("and with every snapshot damaged, the WAL alone rebuilds the state") {
        const std::string oldest = snapshots->back().path;
        flip_byte(oldest, size_of(oldest) - 2);
        const Recovered from_wal = recover_ok(env, dir.path());
        CHECK(from_wal.snapshot_lsn == 0);
        CHECK(from_wal.warnings.size() == 2);
        CHECK(contents(from_wal.keyspace) == live);
    }
}

// ---- crashes -------------------------------------------------------------------------

TEST_CASE("after a power loss under everysec, everything synced is recovered") {
    TempDir dir;
    FaultEnv env;
    env.skip_disk_syncs();
    Contents synced;
    VersionVector synced_vv;
    {
        // One segment: rolling to the next fsyncs the last, which would save the "lost" writes.
        Region r(env, dir.path(), FsyncMode::everysec, 1 << 20);
        for (int i = 0; i < 15; ++i) r.set("s" + std::to_string(i % 6), std::to_string(i));
        r.snapshot();
        for (int i = 0; i < 15; ++i) r.set("s" + std::to_string(i % 7), "x" + std::to_string(i));
        REQUIRE(r.log->sync_now().has_value());
        synced = contents(r.keyspace);
        synced_vv = r.log->version_vector();
        // Written to the OS but never synced: a power loss takes these.
        for (int i = 0; i < 10; ++i) r.set("lost" + std::to_string(i), "gone");
        r.log->flush();
    }
    env.crash();
    const Recovered recovered = recover_ok(env, dir.path());
    CHECK(recovered.log.vv == synced_vv);
    CHECK(contents(recovered.keyspace) == synced);
}

TEST_CASE("after a power loss under always, every acknowledged write is recovered") {
    TempDir dir;
    FaultEnv env;
    env.skip_disk_syncs();
    std::map<std::uint64_t, Contents> after_seq;  // the live state after each write
    std::uint64_t acknowledged_seq = 0;
    std::uint64_t last_seq = 0;
    {
        Region r(env, dir.path(), FsyncMode::always);
        after_seq[0] = {};
        for (int i = 0; i < 40; ++i) {
            r.set("k" + std::to_string(i % 9), std::to_string(i));
            r.log->flush();
            after_seq[r.seq()] = contents(r.keyspace);
            if (i == 24) {
                const std::uint64_t end = r.log->appended_lsn();
                r.run_until([&] { return r.log->acknowledged_end() == end; });
            }
            if (i % 5 == 0) r.io.poll();
        }
        // Only lsns are acknowledged; with one local write per record they equal seqs here.
        acknowledged_seq = r.log->acknowledged_end() - 1;
        last_seq = r.seq();
    }
    env.crash();
    const Recovered recovered = recover_ok(env, dir.path());
    const std::uint64_t got = recovered.log.vv.get(self);
    INFO("acknowledged " << acknowledged_seq << ", recovered " << got << " of " << last_seq);
    CHECK(acknowledged_seq >= 25);
    CHECK(got >= acknowledged_seq);
    CHECK(got <= last_seq);
    CHECK(contents(recovered.keyspace) == after_seq.at(got));
}
