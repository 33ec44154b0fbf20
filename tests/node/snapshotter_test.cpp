// Snapshot chunks are encoded straight from the keyspace: they must be byte for byte what
// encoding the keys' states as a std::vector<KeyDelta> gives, which is how they are read back.
#include "node/snapshotter.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "crdt/serialization.hpp"
#include "replication/record_format.hpp"

namespace {

using meridian::crdt::ValueType;
using meridian::node::Keyspace;
using meridian::replication::KeyDelta;

TEST_CASE("a snapshot chunk is the encoding of the keys' states, read back whole") {
    Keyspace keyspace(7);
    const meridian::crdt::ReplicaId us{1, 0};
    for (int i = 0; i < 3000; ++i) {
        const std::string key = "key:" + std::to_string(i) + std::string(i % 50, 'k');
        if (i % 2) {
            keyspace.modify(key, ValueType::counter, [&](meridian::crdt::Value& value) {
                REQUIRE(value.as<meridian::crdt::PnCounter>()->add(us, i).has_value());
                return 0;
            });
        } else {
            meridian::crdt::Register reg;
            REQUIRE(keyspace
                        .join(key, meridian::crdt::Value(reg.assign(us, meridian::crdt::Hlc::from_parts(1000 + i, 0),
                                                                    std::string(i % 300, 'v'))))
                        .has_value());
        }
    }
    std::uint64_t cursor = 0;
    std::size_t keys = 0, chunks = 0;
    do {
        const std::uint64_t from = cursor;
        const std::string chunk = meridian::node::encode_snapshot_chunk(keyspace, cursor);
        ++chunks;
        std::vector<KeyDelta> expected;
        std::uint64_t again = from;
        do {
            again = keyspace.scan(again, 256, [&](std::string_view key, const meridian::crdt::Value& value) {
                expected.push_back(KeyDelta{std::string(key), value});
            });
        } while (again != 0 && again != cursor);
        CHECK(chunk == meridian::crdt::encode(expected));
        auto decoded = meridian::crdt::decode<std::vector<KeyDelta>>(chunk);
        REQUIRE(decoded.has_value());
        CHECK(*decoded == expected);
        keys += decoded->size();
    } while (cursor != 0);
    CHECK(keys == 3000);
    CHECK(chunks >= 1);
}

}  // namespace
