#include "node/log_store.hpp"

#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <boost/asio/executor_work_guard.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "crdt/show.hpp"
#include "storage/fault_env.hpp"
#include "node/recovery.hpp"

namespace {

using meridian::crdt::Hlc;
using meridian::crdt::Register;
using meridian::crdt::ReplicaId;
using meridian::crdt::Value;
using meridian::crdt::VersionVector;
using meridian::node::FsyncMode;
using meridian::node::LogStart;
using meridian::node::LogStore;
using meridian::node::LogStoreOptions;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::TempDir;
using meridian::replication::KeyDelta;
using meridian::replication::LoggedRecord;
using meridian::replication::LogRecord;

constexpr ReplicaId region_a{1, 0};
constexpr ReplicaId region_b{2, 0};
constexpr ReplicaId region_c{3, 0};

// A record of `origin`'s write number `seq`: one register delta whose size varies with seq.
std::shared_ptr<const LogRecord> delta_record(ReplicaId origin, std::uint64_t seq,
                                              std::size_t value_bytes = 0) {
    auto record = std::make_shared<LogRecord>();
    record->origin = origin;
    record->lo = record->hi = seq;
    if (value_bytes == 0) value_bytes = 8 + (seq * 37) % 120;
    Register reg;
    record->deltas.push_back(
        KeyDelta{"key:" + std::to_string(origin.region) + ":" + std::to_string(seq),
                 Value(reg.assign(origin, Hlc::from_parts(1000 + seq, 0),
                                  std::string(value_bytes, static_cast<char>('a' + seq % 26))))});
    return record;
}

std::shared_ptr<const LogRecord> merge_record(VersionVector merged) {
    auto record = std::make_shared<LogRecord>();
    record->kind = LogRecord::Kind::vv_merge;
    record->merged = std::move(merged);
    return record;
}

VersionVector vv_of(std::initializer_list<std::pair<ReplicaId, std::uint64_t>> entries) {
    VersionVector vv;
    for (const auto& [replica, seq] : entries) vv.advance(replica, seq);
    return vv;
}

LogStoreOptions options_in(const TempDir& dir, FsyncMode fsync) {
    LogStoreOptions o;
    o.wal_dir = dir / "wal";
    o.fsync = fsync;
    return o;
}

// A LogStore over a FaultEnv in a temp dir, with its callbacks recorded and an io_context the
// test runs by hand (fsync completions are posted to it).
struct Harness {
    TempDir dir;
    FaultEnv env;
    boost::asio::io_context io;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
        boost::asio::make_work_guard(io);
    std::unique_ptr<LogStore> log;
    std::vector<std::uint64_t> visible;       // lsns passed to on_visible
    std::vector<std::uint64_t> acknowledged;  // ends passed to on_acknowledged
    std::vector<std::string> failures;

    explicit Harness(FsyncMode fsync, void (*tune)(LogStoreOptions&) = nullptr) {
        env.skip_disk_syncs();
        LogStoreOptions o = options_in(dir, fsync);
        if (tune) tune(o);
        auto opened = LogStore::open(env, io, o, LogStart{});
        REQUIRE(opened.has_value());
        log = std::move(*opened);
        log->on_visible = [this](const LoggedRecord& r) { visible.push_back(r.lsn); };
        log->on_acknowledged = [this](std::uint64_t end) { acknowledged.push_back(end); };
        log->on_failure = [this](const std::string& e) { failures.push_back(e); };
    }

    std::uint64_t append(std::shared_ptr<const LogRecord> record) {
        auto lsn = log->append(std::move(record), 0);
        REQUIRE(lsn.has_value());
        return *lsn;
    }

    // Runs the loop until `done()` holds (fsync completions arrive from the worker thread).
    template <class Pred>
    void run_until(Pred done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!done()) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            io.run_one_for(std::chrono::milliseconds(10));
        }
    }
    // Runs whatever is ready without waiting.
    void poll() { io.poll(); }
};

std::vector<std::uint64_t> range(std::uint64_t from, std::uint64_t to) {  // [from, to)
    std::vector<std::uint64_t> out;
    for (std::uint64_t i = from; i < to; ++i) out.push_back(i);
    return out;
}

// Reads everything visible from `from` in batches of about `max_bytes`, checking that batches
// continue each other.
std::vector<LoggedRecord> read_all(LogStore& log, std::uint64_t from, std::size_t max_bytes) {
    std::vector<LoggedRecord> out;
    while (from < log.next_lsn()) {
        std::vector<LoggedRecord> batch;
        INFO("reading from lsn " << from << " with max_bytes " << max_bytes);
        REQUIRE(log.read(from, max_bytes, batch));
        REQUIRE_FALSE(batch.empty());
        for (const LoggedRecord& r : batch) {
            REQUIRE(r.lsn == from);
            ++from;
            out.push_back(r);
        }
    }
    return out;
}

void require_records(const std::vector<LoggedRecord>& got,
                     const std::vector<std::shared_ptr<const LogRecord>>& expected,
                     std::uint64_t first_lsn) {
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("lsn " << got[i].lsn);
        CHECK(got[i].lsn == first_lsn + i);
        REQUIRE(got[i].record != nullptr);
        CHECK(*got[i].record == *expected[i]);
    }
}

}  // namespace

// ---- reading ---------------------------------------------------------------------

TEST_CASE("records appended and flushed read back from the in-memory tail") {
    Harness h(FsyncMode::everysec);
    std::vector<std::shared_ptr<const LogRecord>> records;
    for (std::uint64_t seq = 1; seq <= 40; ++seq) {
        records.push_back(delta_record(region_a, seq));
        CHECK(h.append(records.back()) == seq);
    }
    h.log->flush();
    for (std::size_t max_bytes : {std::size_t{1}, std::size_t{300}, std::size_t{1} << 30}) {
        INFO("max_bytes " << max_bytes);
        require_records(read_all(*h.log, 1, max_bytes), records, 1);
    }
    require_records(read_all(*h.log, 17, 1 << 20), {records.begin() + 16, records.end()}, 17);
    CHECK(h.log->stats().disk_reads == 0);
}

TEST_CASE(
    "records trimmed from the tail read back from the segments, in batches and across rolls") {
    Harness h(FsyncMode::everysec, [](LogStoreOptions& o) {
        o.tail_bytes = 1;  // nothing stays in memory once visible
        o.segment_bytes = 700;
    });
    std::vector<std::shared_ptr<const LogRecord>> records;
    for (std::uint64_t seq = 1; seq <= 60; ++seq) {
        records.push_back(delta_record(region_a, seq));
        h.append(records.back());
        if (seq % 3 == 0) h.log->flush();  // rolls happen at flushes
    }
    h.log->flush();
    REQUIRE(h.env.list_dir(h.dir / "wal")->size() > 3);

    for (std::size_t max_bytes : {std::size_t{1}, std::size_t{500}, std::size_t{1} << 30}) {
        INFO("max_bytes " << max_bytes);
        require_records(read_all(*h.log, 1, max_bytes), records, 1);
    }
    require_records(read_all(*h.log, 29, 200), {records.begin() + 28, records.end()}, 29);
    CHECK(h.log->stats().disk_reads >= 60);
}

TEST_CASE("a read from disk stops where the tail begins and the tail serves the rest") {
    Harness h(FsyncMode::no, [](LogStoreOptions& o) {
        o.tail_bytes = 1500;  // keeps the last few records only
        o.segment_bytes = 1000;
    });
    std::vector<std::shared_ptr<const LogRecord>> records;
    for (std::uint64_t seq = 1; seq <= 50; ++seq) {
        records.push_back(delta_record(region_b, seq));
        h.append(records.back());
        h.log->flush();
    }
    require_records(read_all(*h.log, 1, 1 << 30), records, 1);
    const auto disk_reads = h.log->stats().disk_reads;
    CHECK(disk_reads > 0);
    CHECK(disk_reads < 50);  // the newest records came from memory
}

TEST_CASE("the tail is budgeted by the records' memory, which exceeds their encoded size") {
    constexpr std::size_t kBudget = 20'000;
    Harness h(FsyncMode::no, [](LogStoreOptions& o) { o.tail_bytes = kBudget; });
    std::size_t encoded = 0;
    std::size_t in_memory = 0;
    for (std::uint64_t seq = 1; seq <= 200; ++seq) {
        auto record = delta_record(region_a, seq, 100);
        encoded += meridian::replication::encode_record(*record).size();
        in_memory += meridian::replication::memory_bytes(*record);
        h.append(std::move(record));
        h.log->flush();
    }
    CHECK(in_memory > encoded);  // a decoded record costs more than its bytes on the wire
    CHECK(h.log->tail_memory_bytes() <= kBudget);
    // Trimmed by one record at a time: the tail stops within a record of its budget.
    CHECK(h.log->tail_memory_bytes() > kBudget - 2 * (in_memory / 200));
    const auto before = h.log->stats().disk_reads;
    read_all(*h.log, 1, 1 << 30);
    CHECK(h.log->stats().disk_reads > before);  // the older records came from the WAL
}

TEST_CASE("a reopened log reads the previous run's records from disk and keeps their checkpoints") {
    TempDir dir;
    FaultEnv env;
    env.skip_disk_syncs();
    LogStoreOptions o = options_in(dir, FsyncMode::everysec);
    o.segment_bytes = 600;
    std::vector<std::shared_ptr<const LogRecord>> records;
    {
        boost::asio::io_context io;
        auto first = LogStore::open(env, io, o, LogStart{});
        REQUIRE(first.has_value());
        for (std::uint64_t seq = 1; seq <= 30; ++seq) {
            records.push_back(delta_record(region_a, seq));
            REQUIRE((*first)->append(records.back(), 0).has_value());
            (*first)->flush();
        }
    }
    auto recovered = meridian::node::recover(env, dir.path(), false, 0);
    REQUIRE(recovered.has_value());
    REQUIRE(recovered->log.next_lsn == 31);

    boost::asio::io_context io;
    auto log = LogStore::open(env, io, o, std::move(recovered->log));
    REQUIRE(log.has_value());
    CHECK((*log)->next_lsn() == 31);
    CHECK((*log)->appended_lsn() == 31);
    CHECK((*log)->version_vector() == vv_of({{region_a, 30}}));
    require_records(read_all(**log, 1, 500), records, 1);
    CHECK((*log)->start_for(VersionVector{}) == std::optional<std::uint64_t>(1));
    // Segment starts of the previous run are checkpoints again.
    const auto start = (*log)->start_for(vv_of({{region_a, 20}}));
    REQUIRE(start.has_value());
    CHECK(*start <= 21);
    CHECK(*start > 10);

    for (std::uint64_t seq = 31; seq <= 35; ++seq) {
        records.push_back(delta_record(region_a, seq));
        auto lsn = (*log)->append(records.back(), 0);
        REQUIRE(lsn.has_value());
        CHECK(*lsn == seq);
    }
    (*log)->flush();
    require_records(read_all(**log, 1, 1 << 20), records, 1);
}

// ---- visibility per fsync mode ---------------------------------------------------

TEST_CASE("under fsync always a record becomes visible only once the fsync worker completed") {
    Harness h(FsyncMode::always);
    std::vector<std::shared_ptr<const LogRecord>> records;
    for (std::uint64_t seq = 1; seq <= 5; ++seq) {
        records.push_back(delta_record(region_a, seq));
        h.append(records.back());
    }
    h.log->flush();
    CHECK(h.log->appended_lsn() == 6);
    // The worker may well have finished by now, but its completion has not reached the loop.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK(h.visible.empty());
    CHECK(h.acknowledged.empty());
    CHECK(h.log->next_lsn() == 1);
    CHECK(h.log->acknowledged_end() == 1);
    std::vector<LoggedRecord> none;
    REQUIRE(h.log->read(1, 1 << 20, none));
    CHECK(none.empty());

    h.run_until([&] { return h.log->acknowledged_end() == 6; });
    CHECK(h.visible == range(1, 6));
    CHECK(h.acknowledged == std::vector<std::uint64_t>{6});
    CHECK(h.log->durable_lsn() == 5);
    require_records(read_all(*h.log, 1, 1 << 20), records, 1);
}

TEST_CASE("under fsync everysec and no a record becomes visible at the flush, before any fsync") {
    for (FsyncMode mode : {FsyncMode::everysec, FsyncMode::no}) {
        INFO((mode == FsyncMode::no ? "fsync no" : "fsync everysec"));
        Harness h(mode);
        for (std::uint64_t seq = 1; seq <= 4; ++seq) h.append(delta_record(region_a, seq));
        // Appended but not written to the OS: neither visible nor acknowledged.
        CHECK(h.visible.empty());
        CHECK(h.log->next_lsn() == 1);
        CHECK(h.log->acknowledged_end() == 1);

        h.log->flush();
        CHECK(h.visible == range(1, 5));
        CHECK(h.acknowledged == std::vector<std::uint64_t>{5});
        CHECK(h.log->next_lsn() == 5);
        CHECK(h.log->stats().fsyncs == 0);
        CHECK(h.log->durable_lsn() == 0);

        h.log->sync_in_background();
        h.run_until([&] { return h.log->stats().fsyncs == 1; });
        CHECK(h.log->durable_lsn() == 4);
        CHECK(h.acknowledged == std::vector<std::uint64_t>{5});  // no second announcement
        h.log->sync_in_background();                             // nothing new: no fsync
        h.poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        h.poll();
        CHECK(h.log->stats().fsyncs == 1);
    }
}

TEST_CASE("on_acknowledged announces each new end once, in order") {
    Harness h(FsyncMode::no);
    std::vector<std::uint64_t> expected;
    std::uint64_t seq = 0;
    for (int batch : {1, 3, 2, 5}) {
        for (int i = 0; i < batch; ++i) h.append(delta_record(region_a, ++seq));
        h.log->flush();
        h.log->flush();  // a flush with nothing new announces nothing
        expected.push_back(seq + 1);
    }
    CHECK(h.acknowledged == expected);
    CHECK(h.visible == range(1, seq + 1));
}

TEST_CASE("group commit: appends that arrive while an fsync runs share the next one") {
    Harness h(FsyncMode::always);
    h.append(delta_record(region_a, 1));
    h.log->flush();  // starts the first fsync
    std::map<std::uint64_t, bool> done;
    h.log->when_durable(1, [&](bool ok) { done[1] = ok; });
    for (std::uint64_t seq = 2; seq <= 100; ++seq) {
        const auto lsn = h.append(delta_record(region_a, seq));
        h.log->flush();  // each of these finds the fsync running
        h.log->when_durable(lsn, [&done, lsn](bool ok) { done[lsn] = ok; });
    }
    h.run_until([&] { return h.log->acknowledged_end() == 101; });
    CHECK(h.log->stats().fsyncs == 2);
    CHECK(h.log->stats().records_appended == 100);
    REQUIRE(done.size() == 100);
    for (const auto& [lsn, ok] : done) {
        INFO("lsn " << lsn);
        CHECK(ok);
    }
    CHECK(h.visible == range(1, 101));
    // The first fsync covered lsn 1 only; the second everything else.
    CHECK(h.acknowledged == std::vector<std::uint64_t>{2, 101});
}

TEST_CASE("when_durable answers at once for an acknowledged lsn and later for a pending one") {
    Harness h(FsyncMode::always);
    const auto first = h.append(delta_record(region_a, 1));
    h.log->flush();
    std::vector<std::pair<std::uint64_t, bool>> calls;
    h.log->when_durable(first, [&](bool ok) { calls.emplace_back(first, ok); });
    CHECK(calls.empty());
    h.run_until([&] { return !calls.empty(); });
    CHECK(calls == std::vector<std::pair<std::uint64_t, bool>>{{1, true}});
    h.log->when_durable(first, [&](bool ok) { calls.emplace_back(first, ok); });
    CHECK(calls.size() == 2);
}

// ---- start_for: where a peer's catch-up starts ------------------------------------

TEST_CASE("start_for finds a start from which a peer gets every record it lacks") {
    rc::prop("catch-up start", [] {
        const auto origins = *rc::gen::container<std::vector<int>>(rc::gen::inRange(0, 3));
        const auto every = *rc::gen::inRange<std::uint32_t>(1, 9);
        const auto segment_bytes = *rc::gen::inRange<std::uint64_t>(150, 2000);
        const ReplicaId replicas[] = {region_a, region_b, region_c};

        TempDir dir;
        FaultEnv env;
        env.skip_disk_syncs();
        boost::asio::io_context io;
        LogStoreOptions options = options_in(dir, FsyncMode::no);
        options.checkpoint_every = every;
        options.segment_bytes = segment_bytes;
        auto log = LogStore::open(env, io, options, LogStart{});
        RC_ASSERT(log.has_value());

        std::map<ReplicaId, std::uint64_t> seqs;
        std::vector<std::pair<ReplicaId, std::uint64_t>> by_lsn;  // index lsn - 1
        for (int origin : origins) {
            const ReplicaId r = replicas[origin];
            const std::uint64_t seq = ++seqs[r];
            RC_ASSERT((*log)->append(delta_record(r, seq, 20), 0).has_value());
            by_lsn.emplace_back(r, seq);
            if (*rc::gen::inRange(0, 3) == 0) (*log)->flush();
        }
        (*log)->flush();

        VersionVector peer;
        for (const auto& [r, seq] : seqs)
            peer.advance(r, *rc::gen::inRange<std::uint64_t>(0, seq + 1));
        const auto start = (*log)->start_for(peer);
        RC_ASSERT(start.has_value());
        RC_LOG() << "peer " << peer << " starts at " << *start << "\n";
        RC_ASSERT(*start >= 1);
        RC_ASSERT(*start <= (*log)->appended_lsn());
        // Every record the peer lacks is at or after the start.
        for (std::size_t i = 0; i < by_lsn.size(); ++i) {
            const auto& [r, seq] = by_lsn[i];
            if (seq > peer.get(r)) RC_ASSERT(i + 1 >= *start);
        }
        if (peer.includes((*log)->version_vector())) RC_ASSERT(*start == (*log)->appended_lsn());
    });
}

TEST_CASE("start_for uses checkpoints rather than the log's beginning") {
    Harness h(FsyncMode::no, [](LogStoreOptions& o) { o.checkpoint_every = 4; });
    for (std::uint64_t seq = 1; seq <= 40; ++seq) h.append(delta_record(region_a, seq));
    h.log->flush();
    const auto start = h.log->start_for(vv_of({{region_a, 30}}));
    REQUIRE(start.has_value());
    CHECK(*start <= 31);
    CHECK(*start > 31 - 4);
    CHECK(h.log->start_for(VersionVector{}) == std::optional<std::uint64_t>(1));
    CHECK(h.log->start_for(vv_of({{region_a, 40}})) == std::optional<std::uint64_t>(41));
    CHECK(h.log->start_for(vv_of({{region_a, 90}, {region_b, 3}})) ==
          std::optional<std::uint64_t>(41));
}

TEST_CASE("a peer behind what retention kept needs a full sync") {
    Harness h(FsyncMode::everysec, [](LogStoreOptions& o) {
        o.segment_bytes = 400;
        o.retention_bytes = 0;
        o.checkpoint_every = 1u << 20;  // only segment starts are checkpoints
        o.tail_bytes = 1;
    });
    for (std::uint64_t seq = 1; seq <= 60; ++seq) {
        h.append(delta_record(region_a, seq));
        h.log->flush();
    }
    const auto before = h.log->wal_bytes();
    h.log->collect(40);
    const std::uint64_t first = h.log->first_retained_lsn();
    CHECK(first > 1);
    CHECK(first <= 40);
    CHECK(h.log->stats().segments_removed > 0);
    CHECK(h.log->wal_bytes() < before);

    CHECK_FALSE(h.log->start_for(VersionVector{}).has_value());
    CHECK_FALSE(h.log->start_for(vv_of({{region_a, first - 2}})).has_value());
    std::vector<LoggedRecord> out;
    CHECK_FALSE(h.log->read(1, 1 << 20, out));
    CHECK_FALSE(h.log->read(first - 1, 1 << 20, out));

    // A peer that holds everything before the retained segments still catches up from them.
    const auto start = h.log->start_for(vv_of({{region_a, 45}}));
    REQUIRE(start.has_value());
    CHECK(*start >= first);
    CHECK(*start <= 46);
    const auto rest = read_all(*h.log, *start, 1 << 20);
    REQUIRE_FALSE(rest.empty());
    CHECK(rest.back().lsn == 60);
}

TEST_CASE("collect keeps every segment holding records from keep_from on") {
    Harness h(FsyncMode::everysec, [](LogStoreOptions& o) {
        o.segment_bytes = 400;
        o.retention_bytes = 0;
        o.tail_bytes = 1;
    });
    std::vector<std::shared_ptr<const LogRecord>> records;
    for (std::uint64_t seq = 1; seq <= 60; ++seq) {
        records.push_back(delta_record(region_a, seq));
        h.append(records.back());
        h.log->flush();
    }
    for (std::uint64_t keep_from : {1u, 10u, 33u, 59u, 61u}) {
        INFO("keep_from " << keep_from);
        h.log->collect(keep_from);
        CHECK(h.log->first_retained_lsn() <= keep_from);
        const std::uint64_t from = std::min<std::uint64_t>(keep_from, 60);
        require_records(read_all(*h.log, from, 1 << 20),
                        {records.begin() + (from - 1), records.end()}, from);
    }
    // The segment being written is never removed.
    CHECK_FALSE(h.env.list_dir(h.dir / "wal")->empty());
}

TEST_CASE("collect removes nothing while the WAL is within its retention budget") {
    Harness h(FsyncMode::everysec, [](LogStoreOptions& o) {
        o.segment_bytes = 400;
        o.retention_bytes = 1u << 20;
    });
    for (std::uint64_t seq = 1; seq <= 30; ++seq) {
        h.append(delta_record(region_a, seq));
        h.log->flush();
    }
    h.log->collect(31);
    CHECK(h.log->first_retained_lsn() == 1);
    CHECK(h.log->stats().segments_removed == 0);
    CHECK(h.log->start_for(VersionVector{}) == std::optional<std::uint64_t>(1));
}

TEST_CASE("after a full-sync merge a peer can catch up only from the records after it") {
    Harness h(FsyncMode::no, [](LogStoreOptions& o) { o.checkpoint_every = 3; });
    for (std::uint64_t seq = 1; seq <= 10; ++seq) h.append(delta_record(region_a, seq));
    const auto merge_lsn = h.append(merge_record(vv_of({{region_b, 100}})));
    for (std::uint64_t seq = 11; seq <= 15; ++seq) h.append(delta_record(region_a, seq));
    h.log->flush();

    CHECK(merge_lsn == 11);
    CHECK(h.log->catchup_floor() == 12);
    CHECK(h.log->version_vector() == vv_of({{region_a, 15}, {region_b, 100}}));
    // Missing what the merge brought: those writes never existed here as records.
    CHECK_FALSE(h.log->start_for(vv_of({{region_a, 15}})).has_value());
    CHECK_FALSE(h.log->start_for(VersionVector{}).has_value());
    // Missing records before the merge: they are behind the floor.
    CHECK_FALSE(h.log->start_for(vv_of({{region_a, 5}, {region_b, 100}})).has_value());
    CHECK(h.log->start_for(vv_of({{region_a, 10}, {region_b, 100}})) ==
          std::optional<std::uint64_t>(12));
    const auto start = h.log->start_for(vv_of({{region_a, 13}, {region_b, 100}}));
    REQUIRE(start.has_value());
    CHECK(*start >= 12);
    CHECK(*start <= 14);
    // A peer with everything starts after the last record (lsn 16: the deltas are 12..16).
    CHECK(h.log->start_for(vv_of({{region_a, 15}, {region_b, 100}})) ==
          std::optional<std::uint64_t>(17));
}

// ---- failures --------------------------------------------------------------------

TEST_CASE("a failed write breaks the log: on_failure fires once and appends are refused") {
    Harness h(FsyncMode::everysec);
    h.append(delta_record(region_a, 1));
    h.log->flush();
    h.append(delta_record(region_a, 2));
    bool answered = false;
    bool outcome = true;
    h.log->when_durable(2, [&](bool ok) {
        answered = true;
        outcome = ok;
    });
    h.env.fail_next_append(5);  // a short write, then ENOSPC
    h.log->flush();

    REQUIRE(h.failures.size() == 1);
    CHECK(h.failures[0].find("injected") != std::string::npos);
    CHECK(h.log->broken());
    CHECK(answered);
    CHECK_FALSE(outcome);
    CHECK(h.visible == std::vector<std::uint64_t>{1});
    CHECK(h.log->acknowledged_end() == 2);

    auto refused = h.log->append(delta_record(region_a, 3), 0);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == h.log->error());
    h.log->flush();
    CHECK_FALSE(h.log->sync_now().has_value());
    bool late = true;
    h.log->when_durable(2, [&](bool ok) { late = ok; });
    CHECK_FALSE(late);
    CHECK(h.failures.size() == 1);
}

TEST_CASE("a failed fsync under always breaks the log and nothing it covered is acknowledged") {
    Harness h(FsyncMode::always);
    h.append(delta_record(region_a, 1));
    bool outcome = true;
    bool answered = false;
    h.log->when_durable(1, [&](bool ok) {
        answered = true;
        outcome = ok;
    });
    h.env.fail_next_sync();
    h.log->flush();
    h.run_until([&] { return !h.failures.empty(); });

    CHECK(h.failures.size() == 1);
    CHECK(h.failures[0].find("fsync failed") != std::string::npos);
    CHECK(answered);
    CHECK_FALSE(outcome);
    CHECK(h.visible.empty());
    CHECK(h.acknowledged.empty());
    CHECK(h.log->acknowledged_end() == 1);
    CHECK_FALSE(h.log->append(delta_record(region_a, 2), 0).has_value());
    h.log->flush();
    h.log->sync_in_background();
    h.poll();
    CHECK(h.failures.size() == 1);
}

TEST_CASE("a failed background fsync under everysec breaks the log") {
    Harness h(FsyncMode::everysec);
    h.append(delta_record(region_a, 1));
    h.log->flush();
    h.env.fail_next_sync();
    h.log->sync_in_background();
    h.run_until([&] { return !h.failures.empty(); });
    CHECK(h.failures.size() == 1);
    CHECK(h.log->broken());
    CHECK_FALSE(h.log->append(delta_record(region_a, 2), 0).has_value());
}

namespace {

std::uint64_t fake_wall_ms = 1000;

}  // namespace

TEST_CASE("a clock record goes before the first record of each new wall-clock millisecond") {
    fake_wall_ms = 1000;
    Harness h(FsyncMode::no, [](LogStoreOptions& o) { o.unix_ms = [] { return fake_wall_ms; }; });
    const std::uint64_t first = h.append(delta_record(region_a, 1));
    h.append(delta_record(region_a, 2));  // same millisecond: no clock record
    fake_wall_ms = 1005;
    const std::uint64_t third = h.append(delta_record(region_a, 3));
    h.log->flush();
    CHECK(first == 2);  // lsn 1 is the clock record
    CHECK(third == 5);
    const auto records = read_all(*h.log, 1, 1 << 20);
    REQUIRE(records.size() == 5);
    CHECK(records[0].record->kind == LogRecord::Kind::clock);
    CHECK(records[0].record->unix_ms == 1000);
    CHECK(records[3].record->kind == LogRecord::Kind::clock);
    CHECK(records[3].record->unix_ms == 1005);
    // Clock records are bookkeeping: the version vector counts only the writes.
    CHECK(h.log->version_vector() == vv_of({{region_a, 3}}));
    // And they survive the encoding to disk.
    CHECK(*meridian::replication::decode_record(meridian::replication::encode_record(*records[3].record)) ==
          *records[3].record);
}

TEST_CASE("roll_segment closes a segment that holds records and no other") {
    Harness h(FsyncMode::everysec);
    const std::uint64_t empty_first = h.log->segment_first_lsn();
    REQUIRE(h.log->roll_segment().has_value());
    CHECK(h.log->segment_first_lsn() == empty_first);  // nothing in it: not rolled
    h.append(delta_record(region_a, 1));
    h.append(delta_record(region_a, 2));
    REQUIRE(h.log->roll_segment().has_value());
    CHECK(h.log->segment_first_lsn() == 3);
    auto segments = meridian::node::list_segments(h.env, h.dir / "wal");
    REQUIRE(segments.has_value());
    REQUIRE(segments->size() == 2);
    CHECK((*segments)[1].first_lsn == 3);
    CHECK(h.log->durable_lsn() == 2);  // a roll syncs what it closes
}
