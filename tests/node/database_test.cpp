#include "node/database.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "crdt/show.hpp"
#include "storage/fault_env.hpp"

namespace {

using meridian::conflict::Policy;
using meridian::conflict::PolicyTable;
using meridian::conflict::Refusal;
using meridian::conflict::Writer;
using meridian::conflict::Written;
using meridian::crdt::BoundedCounter;
using meridian::crdt::Hlc;
using meridian::crdt::PnCounter;
using meridian::crdt::Register;
using meridian::crdt::ReplicaId;
using meridian::crdt::StringSet;
using meridian::crdt::Value;
using meridian::crdt::ValueType;
using meridian::crdt::VersionVector;
using meridian::node::Database;
using meridian::node::FsyncMode;
using meridian::node::Keyspace;
using meridian::node::LogStart;
using meridian::node::LogStore;
using meridian::node::LogStoreOptions;
using meridian::node::WriteError;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::TempDir;
using meridian::replication::KeyDelta;
using meridian::replication::LoggedRecord;
using meridian::replication::LogRecord;

constexpr ReplicaId self{1, 0};
constexpr ReplicaId peer{2, 0};

Policy rule(std::string match, ValueType type, std::optional<std::int64_t> min = std::nullopt) {
    Policy p;
    p.match = std::move(match);
    p.type = type;
    p.min = min;
    return p;
}

PolicyTable test_policies() {
    return PolicyTable({rule("c:*", ValueType::counter), rule("s:*", ValueType::set),
                        rule("b:*", ValueType::bounded_counter, 0)},
                       rule("", ValueType::lww));
}

std::string no_reply(const Database::Committed&) {
    return {};
}

// A database over a fresh log (fsync = no), with the physical clock in the test's hands.
struct Fixture {
    TempDir dir;
    FaultEnv env;
    boost::asio::io_context io;
    Keyspace keyspace;
    PolicyTable policies = test_policies();
    std::unique_ptr<LogStore> log;
    std::unique_ptr<Database> db;
    std::uint64_t physical_ms = 1'000'000;

    Fixture() {
        env.skip_disk_syncs();
        LogStoreOptions o;
        o.wal_dir = dir / "wal";
        o.fsync = FsyncMode::no;
        auto opened = LogStore::open(env, io, o, LogStart{});
        REQUIRE(opened.has_value());
        log = std::move(*opened);
        db = std::make_unique<Database>(
            keyspace, policies, *log, self, self, Hlc{}, [this] { return physical_ms; },
            [] { return std::uint64_t{0}; });
    }

    meridian::Expected<Database::Committed, WriteError> write(
        std::vector<Database::KeyWrite> writes) {
        return db->write(writes, no_reply);
    }

    // Every record appended so far, after a flush.
    std::vector<LoggedRecord> records() {
        log->flush();
        std::vector<LoggedRecord> out;
        REQUIRE(log->read(1, 1 << 30, out));
        return out;
    }
};

Database::KeyWrite set(std::string_view key, std::string value) {
    return {key, [value = std::move(value)](Value& state, const Writer& w) {
                return meridian::conflict::set_value(state, w, value);
            }};
}

Database::KeyWrite incrby(Fixture& f, std::string_view key, std::int64_t amount) {
    const Policy& policy = f.db->policy(key);
    return {key, [&policy, amount](Value& state, const Writer& w) {
                return meridian::conflict::add_to_counter(state, policy, w, amount);
            }};
}

Database::KeyWrite del(std::string_view key) {
    return {key, [](Value& state, const Writer& w) {
                return meridian::conflict::delete_value(state, w);
            }};
}

std::optional<std::string> register_value(const Fixture& f, std::string_view key) {
    const Value* v = f.db->read(key);
    if (!v || !v->as<Register>()) return std::nullopt;
    return v->as<Register>()->value();
}

std::shared_ptr<const LogRecord> remote_set(std::uint64_t seq, std::string key, Hlc stamp,
                                            std::string value) {
    auto record = std::make_shared<LogRecord>();
    record->origin = peer;
    record->lo = record->hi = seq;
    Register reg;
    record->deltas.push_back(
        KeyDelta{std::move(key), Value(reg.assign(peer, stamp, std::move(value)))});
    return record;
}

}  // namespace

TEST_CASE("a write of several keys takes one dot and is logged as one record") {
    Fixture f;
    auto committed = f.write({set("a", "1"), set("b", "2"), set("c", "3")});
    REQUIRE(committed.has_value());
    CHECK(committed->seq == 1);
    CHECK(committed->lsn == 1);
    REQUIRE(committed->results.size() == 3);
    CHECK(f.log->version_vector().get(self) == 1);
    CHECK(f.log->appended_lsn() == 2);
    CHECK(register_value(f, "a") == std::optional<std::string>("1"));
    CHECK(register_value(f, "c") == std::optional<std::string>("3"));

    auto second = f.write({set("d", "4"), set("a", "5")});
    REQUIRE(second.has_value());
    CHECK(second->seq == 2);
    CHECK(second->lsn == 2);

    const auto logged = f.records();
    REQUIRE(logged.size() == 2);
    const LogRecord& first = *logged[0].record;
    CHECK(first.kind == LogRecord::Kind::deltas);
    CHECK(first.origin == self);
    CHECK(first.lo == 1);
    CHECK(first.hi == 1);
    REQUIRE(first.deltas.size() == 3);
    CHECK(first.deltas[0].key == "a");
    CHECK(first.deltas[1].key == "b");
    CHECK(first.deltas[2].key == "c");
    CHECK(first.deltas[1].delta == committed->results[1].delta);
    CHECK(logged[1].record->lo == 2);
    CHECK(logged[1].record->hi == 2);
    // Every key of one write carries the same stamp: one write, one instant.
    const auto stamp_of = [](const KeyDelta& d) { return d.delta.as<Register>()->stamp(); };
    CHECK(stamp_of(first.deltas[0]) == stamp_of(first.deltas[2]));
    CHECK(stamp_of(first.deltas[0]) < stamp_of(logged[1].record->deltas[0]));
}

TEST_CASE("a transaction's writes take a dot each and reach the log as one record") {
    Fixture f;
    REQUIRE(f.write({set("before", "0")}).has_value());

    f.db->begin_transaction();
    CHECK(f.db->in_transaction());
    auto first = f.write({set("a", "1"), incrby(f, "c:1", 2)});
    REQUIRE(first.has_value());
    // A refusal inside the transaction spends no dot and leaves the others in.
    REQUIRE_FALSE(f.write({incrby(f, "b:1", -1)}).has_value());
    auto second = f.write({set("a", "2")});
    REQUIRE(second.has_value());
    CHECK(first->seq == 2);
    CHECK(second->seq == 3);
    CHECK(first->lsn == 0);
    // Applied to the keyspace at once, not yet logged.
    CHECK(register_value(f, "a") == std::optional<std::string>("2"));
    CHECK(f.log->version_vector().get(self) == 1);

    auto lsn = f.db->commit_transaction();
    REQUIRE(lsn.has_value());
    REQUIRE(lsn->has_value());
    CHECK(**lsn == 2);
    CHECK_FALSE(f.db->in_transaction());
    CHECK(f.log->version_vector().get(self) == 3);

    const auto logged = f.records();
    REQUIRE(logged.size() == 2);
    const LogRecord& record = *logged[1].record;
    CHECK(record.origin == self);
    CHECK(record.lo == 2);
    CHECK(record.hi == 3);
    REQUIRE(record.deltas.size() == 3);
    CHECK(record.deltas[0].key == "a");
    CHECK(record.deltas[1].key == "c:1");
    CHECK(record.deltas[2].key == "a");

    // The next write after the transaction takes the next dot.
    auto after = f.write({set("z", "9")});
    REQUIRE(after.has_value());
    CHECK(after->seq == 4);
}

TEST_CASE("a transaction that writes nothing logs nothing") {
    Fixture f;
    f.db->begin_transaction();
    REQUIRE_FALSE(f.write({incrby(f, "b:1", -1)}).has_value());
    auto lsn = f.db->commit_transaction();
    REQUIRE(lsn.has_value());
    CHECK_FALSE(lsn->has_value());
    CHECK(f.log->appended_lsn() == 1);
    auto next = f.write({set("a", "1")});
    REQUIRE(next.has_value());
    CHECK(next->seq == 1);
}

TEST_CASE("a refused write changes neither the keyspace nor the log") {
    Fixture f;
    REQUIRE(f.write({set("a", "1"), incrby(f, "c:1", 5)}).has_value());
    const auto size = f.keyspace.size();
    const auto visible = f.keyspace.visible_size();
    const Value counter = *f.keyspace.find("c:1");

    SECTION("a new key that refuses is not created") {
        // No rights on a bounded counter that was never incremented.
        auto refused = f.write({incrby(f, "b:1", -1), set("x", "never")});
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().kind == WriteError::Kind::refused);
        CHECK(refused.error().refusal == Refusal::insufficient_rights);
        CHECK(f.keyspace.find("b:1") == nullptr);
        CHECK(f.keyspace.find("x") == nullptr);
    }
    SECTION("an existing key that refuses keeps its state") {
        auto refused = f.write({incrby(f, "c:1", std::numeric_limits<std::int64_t>::max())});
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().refusal == Refusal::overflow);
        CHECK(*f.keyspace.find("c:1") == counter);
    }
    CHECK(f.keyspace.size() == size);
    CHECK(f.keyspace.visible_size() == visible);
    CHECK(f.log->appended_lsn() == 2);
    CHECK(f.log->version_vector().get(self) == 1);
    // The next write takes the next dot: no sequence number was spent on the refusal.
    auto next = f.write({set("a", "2")});
    REQUIRE(next.has_value());
    CHECK(next->seq == 2);
}

TEST_CASE("a command of another type than the key's policy is refused as wrong type") {
    Fixture f;
    auto refused = f.write({set("c:1", "text")});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().kind == WriteError::Kind::refused);
    CHECK(refused.error().refusal == Refusal::wrong_type);
    CHECK(f.keyspace.find("c:1") == nullptr);
    CHECK_FALSE(f.db->holds_other_type("c:1"));
}

TEST_CASE("a key holding another type than its policy (after a policy change) refuses writes") {
    Fixture f;
    Register reg;
    const Value old(reg.assign(peer, Hlc::from_parts(5, 0), std::string("old text")));
    REQUIRE(f.keyspace.join("c:1", old).has_value());
    CHECK(f.db->holds_other_type("c:1"));
    auto refused = f.write({incrby(f, "c:1", 1)});
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().refusal == Refusal::wrong_type);
    CHECK(*f.keyspace.find("c:1") == old);
    CHECK(f.log->appended_lsn() == 1);
}

TEST_CASE("reads do not show deleted registers or reset counters") {
    Fixture f;
    REQUIRE(f.write({set("a", "1"), incrby(f, "c:1", 3)}).has_value());
    REQUIRE(f.db->read("a") != nullptr);
    REQUIRE(f.db->read("c:1") != nullptr);
    REQUIRE(f.write({del("a")}).has_value());
    REQUIRE(f.write({del("c:1")}).has_value());
    CHECK(f.db->read("a") == nullptr);
    CHECK(f.db->read("c:1") == nullptr);
    CHECK(f.keyspace.find("a") != nullptr);  // the tombstone is kept for convergence
    CHECK(f.keyspace.visible_size() == 0);
}

TEST_CASE("a write on a broken log fails and changes nothing") {
    Fixture f;
    REQUIRE(f.write({set("a", "1")}).has_value());
    f.env.fail_next_append();
    f.log->flush();
    REQUIRE(f.log->broken());
    auto failed = f.write({set("a", "2"), set("b", "3")});
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().kind == WriteError::Kind::log_failed);
    CHECK_FALSE(failed.error().message.empty());
    CHECK(register_value(f, "a") == std::optional<std::string>("1"));
    CHECK(f.keyspace.find("b") == nullptr);
}

TEST_CASE("applying a peer's record advances the clock past its register stamps") {
    Fixture f;
    // The peer's clock runs 50 seconds ahead of ours.
    const Hlc remote = Hlc::from_parts(f.physical_ms + 50'000, 7);
    f.db->apply(remote_set(1, "k", remote, "theirs"));
    CHECK(register_value(f, "k") == std::optional<std::string>("theirs"));
    CHECK(f.log->version_vector().get(peer) == 1);
    CHECK(f.log->appended_lsn() == 2);

    f.physical_ms += 10;  // our wall clock is still far behind the remote stamp
    auto committed = f.write({set("k", "ours")});
    REQUIRE(committed.has_value());
    CHECK(register_value(f, "k") == std::optional<std::string>("ours"));
    const auto* written = committed->results[0].delta.as<Register>();
    REQUIRE(written != nullptr);
    CHECK(written->stamp().time > remote);
    // The local write is logged after the peer's record, with our next dot.
    CHECK(committed->seq == 1);
    CHECK(committed->lsn == 2);
}

TEST_CASE("a register write from a peer with an older stamp loses to the local value") {
    Fixture f;
    f.physical_ms = 2'000'000;
    REQUIRE(f.write({set("k", "ours")}).has_value());
    f.db->apply(remote_set(1, "k", Hlc::from_parts(1'000'000, 0), "theirs"));
    CHECK(register_value(f, "k") == std::optional<std::string>("ours"));
    CHECK(f.log->version_vector().get(peer) == 1);
}

TEST_CASE("a peer's delta of another type is counted, skipped, and the rest applied") {
    Fixture f;
    REQUIRE(f.write({incrby(f, "c:1", 4)}).has_value());
    auto record = std::make_shared<LogRecord>();
    record->origin = peer;
    record->lo = record->hi = 1;
    Register reg;
    record->deltas.push_back(
        KeyDelta{"c:1", Value(reg.assign(peer, Hlc::from_parts(5, 0), std::string("text")))});
    record->deltas.push_back(
        KeyDelta{"plain", Value(reg.assign(peer, Hlc::from_parts(6, 0), std::string("fine")))});
    f.db->apply(record);
    CHECK(f.db->deltas_refused() == 1);
    REQUIRE(f.keyspace.find("c:1")->as<PnCounter>() != nullptr);
    CHECK(f.keyspace.find("c:1")->as<PnCounter>()->value() == 4);
    CHECK(register_value(f, "plain") == std::optional<std::string>("fine"));
    CHECK(f.log->version_vector().get(peer) == 1);
}

// ---- expiry ----------------------------------------------------------------------

namespace {

Database::KeyWrite expire_at(std::string_view key, std::optional<std::uint64_t> deadline) {
    return {key, [deadline](Value& state, const Writer& w) {
                return meridian::conflict::set_deadline(state, w, deadline);
            }};
}

Database::KeyWrite sadd(std::string_view key, std::string member) {
    return {key, [member = std::move(member)](Value& state, const Writer& w) {
                return meridian::conflict::add_members(state, w, std::span(&member, 1));
            }};
}

}  // namespace

TEST_CASE("an expired key reads as absent and a write to it starts from an absent key") {
    Fixture f;
    REQUIRE(f.write({incrby(f, "c:1", 5)}));
    REQUIRE(f.write({expire_at("c:1", f.physical_ms + 100)}));
    REQUIRE(f.write({sadd("s:1", "old")}));
    REQUIRE(f.write({expire_at("s:1", f.physical_ms + 100)}));
    CHECK(f.db->read("c:1") != nullptr);
    CHECK(f.keyspace.expiring_size() == 2);

    f.physical_ms += 100;  // the deadline's millisecond: still live
    CHECK(f.db->read("c:1") != nullptr);
    f.physical_ms += 1;
    CHECK(f.db->read("c:1") == nullptr);
    CHECK(f.db->read("s:1") == nullptr);
    CHECK(f.keyspace.visible_size() == 2);  // not reclaimed yet (DBSIZE counts them, as Redis's)

    // INCRBY on the expired counter: reclaimed first (its own record), then 0 + 2, with no TTL.
    const std::size_t records_before = f.records().size();
    REQUIRE(f.write({incrby(f, "c:1", 2)}));
    CHECK(f.records().size() == records_before + 2);
    const Value* counter = f.db->read("c:1");
    REQUIRE(counter != nullptr);
    CHECK(counter->as<PnCounter>()->value() == 2);
    CHECK_FALSE(counter->deadline());
    CHECK(f.db->keys_reclaimed() == 1);

    REQUIRE(f.write({sadd("s:1", "new")}));
    CHECK(f.db->read("s:1")->as<StringSet>()->value() == std::vector<std::string>{"new"});
}

TEST_CASE("the sweep reclaims due keys in one write and keeps their TTL") {
    Fixture f;
    for (const char* key : {"a", "b", "c"}) REQUIRE(f.write({set(key, "v")}));
    REQUIRE(f.write({expire_at("a", f.physical_ms + 10)}));
    REQUIRE(f.write({expire_at("b", f.physical_ms + 20)}));
    REQUIRE(f.write({incrby(f, "c:x", 1)}));
    REQUIRE(f.write({expire_at("c:x", f.physical_ms + 30)}));
    CHECK(f.keyspace.expiring_size() == 3);

    auto none = f.db->reclaim_due(10);
    REQUIRE(none);
    CHECK(*none == 0);

    f.physical_ms += 25;
    const std::size_t records_before = f.records().size();
    auto reclaimed = f.db->reclaim_due(10);
    REQUIRE(reclaimed);
    CHECK(*reclaimed == 2);
    CHECK(f.records().size() == records_before + 1);
    CHECK(f.keyspace.expiring_size() == 1);
    CHECK(f.keyspace.visible_size() == 2);  // "c" and the counter
    // The reclaimed register's delete is stamped just after its TTL write, not at the sweep's clock.
    const Value* a = f.keyspace.find("a");
    REQUIRE(a != nullptr);
    CHECK(a->as<Register>()->stamp().time.packed() == a->expiry()->stamp().time.packed() + 1);

    f.physical_ms += 10;
    reclaimed = f.db->reclaim_due(10);
    REQUIRE(reclaimed);
    CHECK(*reclaimed == 1);
    const Value* counter = f.keyspace.find("c:x");
    REQUIRE(counter != nullptr);
    CHECK_FALSE(counter->exists());
    CHECK(counter->expiry() != nullptr);  // kept: a late increment from before the deadline stays expired
    CHECK(f.keyspace.expiring_size() == 0);
    CHECK(f.db->keys_reclaimed() == 3);
}

TEST_CASE("a SET made after the deadline at a region that missed the TTL wins over the reclaim") {
    Fixture f;
    REQUIRE(f.write({set("k", "v")}));
    REQUIRE(f.write({expire_at("k", f.physical_ms + 10)}));
    const Value* ttl_state = f.keyspace.find("k");
    const Hlc ttl_time = ttl_state->expiry()->stamp().time;
    f.physical_ms += 50;
    REQUIRE(f.db->reclaim_due(10));
    // The peer had not seen the TTL; its SET is stamped after the TTL write's time.
    f.db->apply(remote_set(1, "k", Hlc::from_packed(ttl_time.packed() + 1), "fresh"));
    CHECK(register_value(f, "k") == "fresh");
}
