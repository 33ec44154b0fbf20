#include "node/keyspace.hpp"

#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

using meridian::crdt::Error;
using meridian::crdt::Hlc;
using meridian::crdt::PnCounter;
using meridian::crdt::Register;
using meridian::crdt::ReplicaId;
using meridian::crdt::StringSet;
using meridian::crdt::Value;
using meridian::crdt::ValueType;
using meridian::node::Keyspace;

constexpr ReplicaId us{1, 0};

// Writes `text` into key's register, or deletes it (a stored, invisible tombstone) with nullopt.
void write(Keyspace& keyspace, std::string_view key, std::optional<std::string> text,
           std::uint64_t time_ms) {
    keyspace.modify(key, ValueType::lww, [&](Value& value) {
        (void)value.as<Register>()->assign(us, Hlc::from_parts(time_ms, 0), std::move(text));
    });
}

std::optional<std::string> read(const Keyspace& keyspace, std::string_view key) {
    const Value* value = keyspace.find(key);
    if (value == nullptr || value->as<Register>() == nullptr) return std::nullopt;
    return value->as<Register>()->value();
}

// Binary keys: a NUL inside every one but the empty key 0.
std::string key_for(unsigned i) {
    if (i == 0) return {};
    return std::string("\0k", 2) + std::to_string(i);
}

// A whole iteration, `count` keys per call, in visit order; nullopt if it does not end.
std::optional<std::vector<std::string>> scan_all(const Keyspace& keyspace, std::size_t count) {
    std::vector<std::string> keys;
    std::uint64_t cursor = 0;
    for (int calls = 0; calls < 10'000'000; ++calls) {
        cursor = keyspace.scan(cursor, count,
                               [&](std::string_view key, const Value&) { keys.emplace_back(key); });
        if (cursor == 0) return keys;
    }
    return std::nullopt;
}

std::vector<std::string> sorted(std::vector<std::string> keys) {
    std::sort(keys.begin(), keys.end());
    return keys;
}

// One step of a random workload run alongside a SCAN iteration.
struct Op {
    enum Kind { write, tombstone, erase, scan, rehash, fill, drain } kind;
    unsigned key;     // key_for(key)
    unsigned amount;  // scan count, rehash buckets, keys to fill
};

std::ostream& operator<<(std::ostream& os, const Op& op) {
    static const char* const names[] = {"write",  "tombstone", "erase", "scan",
                                        "rehash", "fill",      "drain"};
    return os << names[op.kind] << '(' << op.key << ',' << op.amount << ')';
}

rc::Gen<Op> gen_op() {
    return rc::gen::apply(
        [](Op::Kind kind, unsigned key, unsigned amount) {
            return Op{kind, key, amount};
        },
        rc::gen::weightedElement<Op::Kind>({{6, Op::write},
                                            {2, Op::tombstone},
                                            {3, Op::erase},
                                            {5, Op::scan},
                                            {1, Op::rehash},
                                            {1, Op::fill},
                                            {1, Op::drain}}),
        rc::gen::inRange(0u, 400u), rc::gen::inRange(1u, 50u));
}

// A SCAN iteration in progress and what it owes: keys present since it started and never erased
// must be seen; only keys present at some point during it may be.
struct Iteration {
    bool active = false;
    std::uint64_t cursor = 0;
    std::set<std::string> must_see;
    std::set<std::string> may_see;
    std::set<std::string> seen;
};

}  // namespace

TEST_CASE("keyspace: an absent key is not found, and reading it through modify stores nothing") {
    Keyspace keyspace(1);
    CHECK(keyspace.find("nope") == nullptr);
    CHECK(std::as_const(keyspace).find("nope") == nullptr);
    const bool existed =
        keyspace.modify("nope", ValueType::counter, [](Value& value) { return value.exists(); });
    CHECK_FALSE(existed);
    CHECK(keyspace.find("nope") == nullptr);
    CHECK(keyspace.size() == 0);
    CHECK(keyspace.visible_size() == 0);
}

TEST_CASE("keyspace: modify creates the key with the requested type and returns f's result") {
    Keyspace keyspace(2);
    const auto total = keyspace.modify("hits", ValueType::counter, [](Value& value) {
        REQUIRE(value.type() == ValueType::counter);
        REQUIRE(value.as<PnCounter>()->add(us, 5).has_value());
        return value.as<PnCounter>()->value();
    });
    CHECK(total == 5);
    const Value* stored = keyspace.find("hits");
    REQUIRE(stored != nullptr);
    CHECK(stored->as<PnCounter>()->value() == 5);
    CHECK(keyspace.size() == 1);
    CHECK(keyspace.visible_size() == 1);

    // An existing key keeps its type whatever type_if_new says.
    keyspace.modify("hits", ValueType::set, [](Value& value) {
        CHECK(value.type() == ValueType::counter);
        REQUIRE(value.as<PnCounter>()->add(us, 1).has_value());
    });
    CHECK(keyspace.find("hits")->as<PnCounter>()->value() == 6);
    CHECK(keyspace.size() == 1);
}

TEST_CASE("keyspace: a deleted register stays stored but invisible until it is written again") {
    Keyspace keyspace(3);
    write(keyspace, "k", "v1", 1);
    CHECK(read(keyspace, "k") == "v1");
    CHECK(keyspace.visible_size() == 1);

    write(keyspace, "k", std::nullopt, 2);
    REQUIRE(keyspace.find("k") != nullptr);
    CHECK_FALSE(keyspace.find("k")->exists());
    CHECK(keyspace.size() == 1);
    CHECK(keyspace.visible_size() == 0);

    write(keyspace, "k", "v3", 3);
    CHECK(read(keyspace, "k") == "v3");
    CHECK(keyspace.size() == 1);
    CHECK(keyspace.visible_size() == 1);

    // Deleting a key never written leaves a tombstone too: it orders against later writes.
    write(keyspace, "never", std::nullopt, 4);
    CHECK(keyspace.size() == 2);
    CHECK(keyspace.visible_size() == 1);
}

TEST_CASE("keyspace: a counter reset hides the key and an increment shows it again") {
    Keyspace keyspace(4);
    const auto add = [&](std::int64_t n) {
        keyspace.modify("c", ValueType::counter, [&](Value& value) {
            REQUIRE(value.as<PnCounter>()->add(us, n).has_value());
        });
    };
    add(3);
    CHECK(keyspace.visible_size() == 1);
    keyspace.modify("c", ValueType::counter,
                    [](Value& value) { (void)value.as<PnCounter>()->reset(); });
    CHECK(keyspace.visible_size() == 0);
    CHECK(keyspace.size() == 1);
    add(2);
    CHECK(keyspace.visible_size() == 1);
    CHECK(keyspace.find("c")->as<PnCounter>()->value() == 2);
}

TEST_CASE("keyspace: join creates the key from a delta and joins later deltas into it") {
    Keyspace keyspace(5);
    StringSet replica_a;
    StringSet replica_b;
    REQUIRE(keyspace.join("s", Value(StringSet(replica_a.add(us, "x")))).has_value());
    REQUIRE(keyspace.join("s", Value(StringSet(replica_b.add(ReplicaId{2, 0}, "y")))).has_value());
    const Value* stored = keyspace.find("s");
    REQUIRE(stored != nullptr);
    CHECK(stored->as<StringSet>()->value() == std::vector<std::string>{"x", "y"});
    CHECK(keyspace.visible_size() == 1);
}

TEST_CASE("keyspace: joining a delta of another type is refused and changes nothing") {
    Keyspace keyspace(6);
    write(keyspace, "k", "text", 1);
    const Value before = *keyspace.find("k");
    PnCounter counter;
    const auto delta = counter.add(us, 7);
    REQUIRE(delta.has_value());
    const auto joined = keyspace.join("k", Value(*delta));
    REQUIRE_FALSE(joined.has_value());
    CHECK(joined.error() == Error::type_mismatch);
    CHECK(*keyspace.find("k") == before);
    CHECK(keyspace.size() == 1);
    CHECK(keyspace.visible_size() == 1);
}

TEST_CASE("keyspace: joining an empty delta into an absent key stores nothing") {
    Keyspace keyspace(7);
    for (const ValueType type :
         {ValueType::lww, ValueType::counter, ValueType::set, ValueType::bounded_counter}) {
        REQUIRE(keyspace.join("k", Value::empty(type)).has_value());
        CHECK(keyspace.find("k") == nullptr);
    }
    CHECK(keyspace.size() == 0);
}

TEST_CASE("keyspace: erase removes visible keys and tombstones and keeps the counts right") {
    Keyspace keyspace(8);
    write(keyspace, "live", "v", 1);
    write(keyspace, "dead", std::nullopt, 1);
    REQUIRE(keyspace.size() == 2);
    REQUIRE(keyspace.visible_size() == 1);

    CHECK(keyspace.erase("dead"));
    CHECK(keyspace.find("dead") == nullptr);
    CHECK(keyspace.size() == 1);
    CHECK(keyspace.visible_size() == 1);

    CHECK(keyspace.erase("live"));
    CHECK(keyspace.find("live") == nullptr);
    CHECK(keyspace.size() == 0);
    CHECK(keyspace.visible_size() == 0);

    CHECK_FALSE(keyspace.erase("live"));
    CHECK_FALSE(keyspace.erase("never"));
}

TEST_CASE("keyspace: keys are binary: NULs, prefixes and the empty key are distinct keys") {
    Keyspace keyspace(9);
    const std::vector<std::string> keys = {"",
                                           std::string(1, '\0'),
                                           std::string(2, '\0'),
                                           "a",
                                           std::string("a\0", 2),
                                           std::string("a\0b", 3),
                                           std::string("a\0c", 3),
                                           "ab",
                                           std::string("\xff\0\x80", 3)};
    for (std::size_t i = 0; i < keys.size(); ++i) write(keyspace, keys[i], std::to_string(i), 1);
    REQUIRE(keyspace.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        INFO("key #" << i);
        CHECK(read(keyspace, keys[i]) == std::to_string(i));
    }
    const auto scanned = scan_all(keyspace, 3);
    REQUIRE(scanned.has_value());
    CHECK(sorted(*scanned) == sorted(keys));

    CHECK(keyspace.erase(std::string("a\0", 2)));
    CHECK(read(keyspace, "a") == "3");
    CHECK(read(keyspace, std::string("a\0b", 3)) == "5");
    CHECK(keyspace.find(std::string("a\0", 2)) == nullptr);
}

TEST_CASE("keyspace: a long key is stored and found whole") {
    Keyspace keyspace(10);
    std::string long_key(1 << 20, 'x');
    long_key[12345] = '\0';
    write(keyspace, long_key, "big", 1);
    CHECK(read(keyspace, long_key) == "big");
    long_key.back() = 'y';
    CHECK(keyspace.find(long_key) == nullptr);
    CHECK(keyspace.memory_bytes() > (1u << 20));
}

TEST_CASE("keyspace: the visible count stays right when modify's function throws") {
    Keyspace keyspace(11);
    CHECK_THROWS_AS(keyspace.modify("k", ValueType::lww,
                                    [](Value& value) {
                                        (void)value.as<Register>()->assign(
                                            us, Hlc::from_parts(1, 0), "v");
                                        throw std::runtime_error("after the write");
                                    }),
                    std::runtime_error);
    CHECK(read(keyspace, "k") == "v");
    CHECK(keyspace.visible_size() == 1);
    CHECK_THROWS_AS(keyspace.modify("absent", ValueType::lww,
                                    [](Value&) { throw std::runtime_error("before any write"); }),
                    std::runtime_error);
    CHECK(keyspace.find("absent") == nullptr);
    CHECK(keyspace.size() == 1);
}

TEST_CASE("keyspace: a moved-from keyspace is empty and the target owns the keys") {
    Keyspace source(12);
    for (unsigned i = 0; i < 100; ++i) write(source, key_for(i), "v", 1);
    Keyspace target(std::move(source));
    CHECK(target.size() == 100);
    CHECK(read(target, key_for(42)) == "v");
    CHECK(source.size() == 0);  // NOLINT(bugprone-use-after-move): moved-from state is specified
    CHECK(source.find(key_for(42)) == nullptr);
    Keyspace other(13);
    write(other, "x", "y", 1);
    other = std::move(target);
    CHECK(other.size() == 100);
    CHECK(other.find("x") == nullptr);
}

TEST_CASE("keyspace: memory grows with keys and falls back as they are erased") {
    Keyspace keyspace(14);
    const std::size_t empty = keyspace.memory_bytes();
    for (unsigned i = 0; i < 5000; ++i) write(keyspace, key_for(i), "v", 1);
    const std::size_t full = keyspace.memory_bytes();
    CHECK(full > empty + 5000 * sizeof(Value));
    for (unsigned i = 0; i < 5000; ++i) REQUIRE(keyspace.erase(key_for(i)));
    while (keyspace.rehash(100)) {
    }
    CHECK(keyspace.size() == 0);
    // Only a minimal bucket array is left once the shrinks have run.
    CHECK(keyspace.memory_bytes() <= 64 * sizeof(void*));
}

TEST_CASE("keyspace: memory counts what the values hold on the heap") {
    Keyspace keyspace(16);
    write(keyspace, "k", "v", 1);
    const std::size_t small = keyspace.memory_bytes();
    write(keyspace, "k", std::string(100'000, 'v'), 2);
    CHECK(keyspace.memory_bytes() >= small + 100'000);
    write(keyspace, "k", "v", 3);  // the long string is freed
    CHECK(keyspace.memory_bytes() == small);

    keyspace.modify("s", ValueType::set, [](Value& value) {
        for (int i = 0; i < 1000; ++i) value.as<StringSet>()->add(us, std::to_string(i));
    });
    CHECK(keyspace.memory_bytes() > small + 1000 * sizeof(std::string));
    REQUIRE(keyspace.erase("s"));
    REQUIRE(keyspace.erase("k"));
    while (keyspace.rehash(100)) {
    }
    CHECK(keyspace.memory_bytes() <= 64 * sizeof(void*));
}

TEST_CASE("keyspace: a scan in the middle of a resize visits every key exactly once") {
    for (const bool growing : {true, false}) {
        INFO((growing ? "growing" : "shrinking"));
        Keyspace keyspace(15);
        std::vector<std::string> keys;
        unsigned next = 0;
        // Fill until a resize starts: while growing, stop there; while shrinking, keep filling to
        // a larger table and then erase until the shrink starts.
        for (; keys.size() < 100 || !keyspace.rehashing(); ++next) {
            keys.push_back(key_for(next));
            write(keyspace, keys.back(), "v", 1);
        }
        if (!growing) {
            while (keyspace.rehash(1000)) {
            }
            while (!keyspace.rehashing()) {
                REQUIRE(keyspace.erase(keys.back()));
                keys.pop_back();
            }
        }
        REQUIRE(keyspace.rehashing());
        for (const std::size_t count : {1, 7, 1000}) {
            INFO("count " << count);
            const auto scanned = scan_all(keyspace, count);
            REQUIRE(scanned.has_value());
            CHECK(sorted(*scanned) == sorted(keys));
        }
        CHECK(keyspace.rehashing());  // scanning is const: it moved nothing
    }
}

TEST_CASE("keyspace: a scan of an unchanged keyspace visits every key exactly once") {
    rc::prop("the scanned keys are the stored keys, without repeats", [] {
        const auto seed = *rc::gen::arbitrary<std::uint64_t>();
        const auto stored = *rc::gen::inRange(0u, 3000u);
        const auto erased = *rc::gen::inRange(0u, stored + 1);
        const auto idle_buckets = *rc::gen::inRange(0u, 64u);
        const auto count = *rc::gen::inRange<std::size_t>(1, 200);
        Keyspace keyspace(seed);
        for (unsigned i = 0; i < stored; ++i) write(keyspace, key_for(i), "v", 1);
        // Erasing most keys starts shrinks; rehash() leaves resizes half done or finished.
        for (unsigned i = 0; i < erased; ++i) RC_ASSERT(keyspace.erase(key_for(i)));
        keyspace.rehash(idle_buckets);
        RC_CLASSIFY(keyspace.rehashing(), "mid-resize");
        std::vector<std::string> expected;
        for (unsigned i = erased; i < stored; ++i) expected.push_back(key_for(i));
        const auto scanned = scan_all(keyspace, count);
        RC_ASSERT(scanned.has_value());
        RC_ASSERT(sorted(*scanned) == sorted(expected));
    });
}

TEST_CASE("keyspace: the largest count and budget finish a scan and a resize in one call") {
    Keyspace keyspace(16);
    std::vector<std::string> keys;
    for (unsigned i = 0; keys.size() < 100 || !keyspace.rehashing(); ++i) {
        keys.push_back(key_for(i));
        write(keyspace, keys.back(), "v", 1);
    }
    std::vector<std::string> scanned;
    const std::uint64_t cursor = keyspace.scan(
        0, SIZE_MAX, [&](std::string_view key, const Value&) { scanned.emplace_back(key); });
    CHECK(cursor == 0);
    CHECK(sorted(scanned) == sorted(keys));
    CHECK_FALSE(keyspace.rehash(SIZE_MAX));
    CHECK_FALSE(keyspace.rehashing());
    CHECK(keyspace.size() == keys.size());
}

TEST_CASE("keyspace: a scan from any cursor value ends") {
    rc::prop("an arbitrary cursor reaches 0", [] {
        const auto seed = *rc::gen::arbitrary<std::uint64_t>();
        const auto stored = *rc::gen::inRange(1u, 500u);
        auto cursor = *rc::gen::arbitrary<std::uint64_t>();
        Keyspace keyspace(seed);
        for (unsigned i = 0; i < stored; ++i) write(keyspace, key_for(i), "v", 1);
        int calls = 0;
        do {
            cursor = keyspace.scan(cursor, 10, [](std::string_view, const Value&) {});
            RC_ASSERT(++calls < 100'000);
        } while (cursor != 0);
    });
}

TEST_CASE("keyspace: a scan visits every key present throughout, while keys come and go") {
    rc::prop("random writes, erases, growth, shrinks and scan steps keep the guarantee", [] {
        const auto seed = *rc::gen::arbitrary<std::uint64_t>();
        const auto ops = *rc::gen::container<std::vector<Op>>(gen_op());
        Keyspace keyspace(seed);
        std::map<std::string, bool> model;  // key -> visible
        Iteration iteration;
        std::uint64_t clock = 0;
        bool resized_during_iteration = false;

        const auto store = [&](const std::string& key, std::optional<std::string> text) {
            const bool visible = text.has_value();
            write(keyspace, key, std::move(text), ++clock);
            model[key] = visible;
            if (iteration.active) iteration.may_see.insert(key);
        };
        const auto remove = [&](const std::string& key) {
            RC_ASSERT(keyspace.erase(key) == (model.erase(key) == 1));
            iteration.must_see.erase(key);
        };
        const auto scan_step = [&](std::size_t count) {
            if (!iteration.active) {
                iteration = Iteration{true, 0, {}, {}, {}};
                for (const auto& [key, visible] : model) {
                    iteration.must_see.insert(key);
                    iteration.may_see.insert(key);
                }
            }
            iteration.cursor =
                keyspace.scan(iteration.cursor, count, [&](std::string_view key, const Value& v) {
                    const std::string k(key);
                    RC_ASSERT(iteration.may_see.count(k) == 1u);
                    RC_ASSERT(model.at(k) == v.exists());
                    iteration.seen.insert(k);
                });
            if (iteration.cursor == 0) {
                for (const std::string& key : iteration.must_see) {
                    RC_ASSERT(iteration.seen.count(key) == 1u);
                }
                iteration.active = false;
            }
        };

        for (const Op& op : ops) {
            switch (op.kind) {
                case Op::write:
                    store(key_for(op.key), "v" + std::to_string(clock));
                    break;
                case Op::tombstone:
                    store(key_for(op.key), std::nullopt);
                    break;
                case Op::erase:
                    remove(key_for(op.key));
                    break;
                case Op::scan:
                    scan_step(op.amount);
                    break;
                case Op::rehash:
                    keyspace.rehash(op.amount);
                    break;
                case Op::fill:
                    for (unsigned i = 0; i < op.amount * 8; ++i) store(key_for(op.key + i), "f");
                    break;
                case Op::drain: {
                    // Keep every 9th key: under 1/8 full, so the table shrinks.
                    std::vector<std::string> doomed;
                    unsigned n = 0;
                    for (const auto& entry : model) {
                        if (n++ % 9 != 0) doomed.push_back(entry.first);
                    }
                    for (const std::string& key : doomed) remove(key);
                    break;
                }
            }
            if (iteration.active && keyspace.rehashing()) resized_during_iteration = true;
        }
        for (int calls = 0; iteration.active; ++calls) {
            RC_ASSERT(calls < 1'000'000);
            scan_step(5);
        }
        RC_CLASSIFY(resized_during_iteration, "resized during an iteration");

        RC_ASSERT(keyspace.size() == model.size());
        std::size_t visible = 0;
        for (const auto& [key, is_visible] : model) {
            const Value* value = keyspace.find(key);
            RC_ASSERT(value != nullptr);
            RC_ASSERT(value->exists() == is_visible);
            visible += is_visible ? 1 : 0;
        }
        RC_ASSERT(keyspace.visible_size() == visible);
    });
}

TEST_CASE("keyspace: a million keys, and what each one costs") {
    constexpr unsigned kKeys = 1'000'000;
    Keyspace keyspace;
    std::string key = "key:";
    for (unsigned i = 0; i < kKeys; ++i) {
        key.resize(4);
        key += std::to_string(10'000'000 + i);  // 12-byte keys, like redis-benchmark's
        keyspace.modify(key, ValueType::lww, [](Value& value) {
            (void)value.as<Register>()->assign(us, Hlc::from_parts(1, 0), "xxx");
        });
    }
    REQUIRE(keyspace.size() == kKeys);
    REQUIRE(keyspace.visible_size() == kKeys);
    REQUIRE(read(keyspace, "key:10123456") == "xxx");

    const double per_key = static_cast<double>(keyspace.memory_bytes()) / kKeys;
    WARN("keyspace: " << kKeys
                      << " keys of 12 bytes with small registers: " << keyspace.memory_bytes()
                      << " bytes, " << per_key << " bytes per key (sizeof(Value) " << sizeof(Value)
                      << "; these values keep nothing on the heap)");
    // Not a timing: a guard against the entry layout growing by accident.
    CHECK(per_key < 160.0);
}

// ---- expiry index -----------------------------------------------------------------

namespace {

void expire(Keyspace& keyspace, std::string_view key, ReplicaId writer, std::uint64_t time_ms,
            std::optional<std::uint64_t> deadline) {
    keyspace.modify(key, ValueType::lww, [&](Value& value) {
        (void)value.expire(writer, Hlc::from_parts(time_ms, 0), deadline);
    });
}

}  // namespace

TEST_CASE("keyspace: keys with a deadline are due for reclaiming in deadline order, others never") {
    Keyspace keyspace(7);
    keyspace.set_expiry_owner(us.region, 1000);
    for (unsigned i = 0; i < 50; ++i) {
        write(keyspace, key_for(i), "v", 1);
        if (i % 2 == 0) expire(keyspace, key_for(i), us, 2, 500 - i);  // later keys expire sooner
    }
    CHECK(keyspace.expiring_size() == 25);
    CHECK(keyspace.due_for_reclaim(500 - 48, 100).empty());  // deadline 452 is still live at 452
    const auto due = keyspace.due_for_reclaim(500 - 40, 100);
    CHECK(due == std::vector<std::string>{key_for(48), key_for(46), key_for(44), key_for(42)});
    CHECK(keyspace.due_for_reclaim(10'000, 3).size() == 3);

    // Changes through modify() move a key in the index or out of it.
    expire(keyspace, key_for(48), us, 3, std::nullopt);  // PERSIST
    write(keyspace, key_for(46), "later", 4);            // SET clears the TTL
    write(keyspace, key_for(44), std::nullopt, 4);       // DEL: nothing left to reclaim
    CHECK(keyspace.erase(key_for(42)));
    CHECK(keyspace.expiring_size() == 21);
    CHECK(keyspace.with_ttl_size() == 24);  // PERSIST and the DEL'd key still hold a TTL register
    CHECK(keyspace.due_for_reclaim(500 - 40, 100).empty());
}

TEST_CASE("keyspace: another region's TTLs fall due only after the takeover delay") {
    Keyspace keyspace(7);
    constexpr ReplicaId eu{2, 0};
    write(keyspace, "ours", "v", 1);
    write(keyspace, "theirs", "v", 1);
    expire(keyspace, "ours", us, 2, 100);
    expire(keyspace, "theirs", eu, 2, 100);
    keyspace.set_expiry_owner(us.region, 1000);  // re-indexes what is there
    CHECK(keyspace.due_for_reclaim(101, 10) == std::vector<std::string>{"ours"});
    CHECK(keyspace.due_for_reclaim(1101, 10) == std::vector<std::string>{"ours", "theirs"});

    Keyspace moved = std::move(keyspace);
    CHECK(moved.expiring_size() == 2);
    CHECK(moved.due_for_reclaim(101, 10) == std::vector<std::string>{"ours"});
}
