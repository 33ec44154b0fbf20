// The Records frame's payload (replication/record_format.hpp, write_records_payload): records
// with their clocks chained, each written as the difference from the one before it.
#include <rapidcheck.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crdt/serialization.hpp"
#include "replication/batch_builder.hpp"
#include "replication/log_record.hpp"
#include "replication/record_format.hpp"

namespace {

namespace crdt = meridian::crdt;
namespace repl = meridian::replication;

constexpr crdt::ReplicaId us{1, 0};
constexpr crdt::ReplicaId eu{2, 0};

// A record of `origin`'s SETs at seq lo.., one per clock.
repl::LogRecord sets(crdt::ReplicaId origin, std::uint64_t lo,
                     const std::vector<std::uint64_t>& clocks) {
    repl::LogRecord record;
    record.origin = origin;
    record.lo = lo;
    record.hi = lo + clocks.size() - 1;
    for (std::size_t i = 0; i < clocks.size(); ++i) {
        crdt::Register reg;
        record.deltas.push_back(repl::KeyDelta{
            "lww:" + std::to_string(lo + i),
            crdt::Value(reg.assign(origin, crdt::Hlc::from_packed(clocks[i]),
                                   std::string(16, static_cast<char>('a' + i % 26))))});
    }
    return record;
}

// Clocks as a busy region stamps them: about now, a few writes per millisecond.
std::vector<std::uint64_t> busy_clocks(std::size_t n) {
    std::vector<std::uint64_t> clocks;
    crdt::Hlc clock = crdt::Hlc::from_parts(1'796'000'000'000, 0);
    for (std::size_t i = 0; i < n; ++i) {
        clock = i % 3 == 2 ? crdt::Hlc::from_parts(clock.physical_ms() + 1, 0)
                           : crdt::Hlc::from_packed(clock.packed() + 1);
        clocks.push_back(clock.packed());
    }
    return clocks;
}

}  // namespace

TEST_CASE("records payload: records with any clocks survive a round trip") {
    REQUIRE(rc::check("records payload round trip", [] {
        const auto first = *rc::gen::nonEmpty<std::vector<std::uint64_t>>();
        const auto second = *rc::gen::nonEmpty<std::vector<std::uint64_t>>();
        const std::vector<repl::LogRecord> records{sets(us, 1, first), sets(eu, 5, second)};
        const std::string payload = repl::encode_records(records);
        const auto back = repl::decode_records(payload);
        RC_ASSERT(back.has_value());
        RC_ASSERT(*back == records);
        for (std::size_t n = 0; n < payload.size(); ++n)
            RC_ASSERT(!repl::decode_records(payload.substr(0, n)));
    }));
}

TEST_CASE("records payload: a busy region's stamps take at most 3 bytes each, not 9") {
    const auto record = sets(us, 1, busy_clocks(30));
    const std::size_t chained = repl::encode_records({record}).size();
    const std::size_t whole = crdt::encode(std::vector<repl::LogRecord>{record}).size();
    // The first stamp is a whole clock (9 bytes) either way; each other one saves 6 or more.
    CHECK(chained + 6 * 29 <= whole);
    // The WAL keeps whole clocks, so its records stay what they were (one record, no count).
    const std::string logged = repl::encode_record(record);
    CHECK(logged.size() + 1 == whole);
    CHECK(*repl::decode_record(logged) == record);
}

TEST_CASE("records payload: the batch builder's payload is what encode_records writes") {
    repl::BatchBuilder batch;
    const auto clocks = busy_clocks(6);
    const auto a = sets(us, 1, {clocks[0], clocks[1], clocks[2]});
    const auto b = sets(us, 4, {clocks[3], clocks[4]});  // joined into a: contiguous, same origin
    const auto c = sets(eu, 1, {clocks[5]});
    for (const auto& r : {a, b, c}) batch.add(std::make_shared<const repl::LogRecord>(r), 0);
    const std::string payload = batch.encode_and_clear();

    auto joined = a;
    joined.hi = b.hi;
    joined.deltas.insert(joined.deltas.end(), b.deltas.begin(), b.deltas.end());
    const std::vector<repl::LogRecord> expected{joined, c};
    CHECK(payload == repl::encode_records(expected));
    const auto back = repl::decode_records(payload);
    REQUIRE(back.has_value());
    CHECK(*back == expected);
    CHECK(batch.empty());
}

TEST_CASE(
    "records payload: a key written in several joined records ships once, joined, and the logged "
    "records stay as they were") {
    repl::BatchBuilder batch;
    const auto clocks = busy_clocks(5);
    auto a = sets(us, 1, {clocks[0], clocks[1]});  // lww:1, lww:2
    auto b = sets(us, 3, {clocks[2]});
    b.deltas[0].key = "lww:1";  // lww:1 again, later
    auto c = sets(us, 4, {clocks[3]});
    c.deltas[0].key = "lww:2";
    crdt::PnCounter counter;
    c.deltas.push_back(repl::KeyDelta{"lww:1", crdt::Value(*counter.add(us, 5))});  // another type
    a.request = repl::RequestStamp{eu, 7, 1, "+OK\r\n"};
    const auto logged_a = std::make_shared<const repl::LogRecord>(a);
    const auto logged_b = std::make_shared<const repl::LogRecord>(b);
    const auto logged_c = std::make_shared<const repl::LogRecord>(c);
    batch.add(logged_a, 0);
    batch.add(logged_b, 0);
    batch.add(logged_c, 0);
    const std::string payload = batch.encode_and_clear();

    repl::LogRecord joined = a;
    joined.hi = c.hi;
    joined.request.reset();  // only the home's own log needs it
    REQUIRE(joined.deltas[0].delta.join(b.deltas[0].delta));
    REQUIRE(joined.deltas[1].delta.join(c.deltas[0].delta));
    joined.deltas.push_back(c.deltas[1]);  // a counter cannot join a register: shipped apart
    CHECK(payload == repl::encode_records({joined}));
    CHECK(joined.deltas[0].delta != a.deltas[0].delta);  // the join did change something
    CHECK(*logged_a == a);
    CHECK(*logged_b == b);
    CHECK(*logged_c == c);
}

TEST_CASE("records payload: a lone record ships as logged, its request stamp included") {
    repl::BatchBuilder batch;
    auto a = sets(us, 1, busy_clocks(2));
    a.request = repl::RequestStamp{eu, 7, 1, "+OK\r\n"};
    batch.add(std::make_shared<const repl::LogRecord>(a), 0);
    CHECK(batch.encode_and_clear() == repl::encode_records({a}));
}
