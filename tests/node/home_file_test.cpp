// The body of <data_dir>/homes (node/peer_messages.hpp): retirements were added after it was
// first written, so a file without them must read as before and keep its bytes.
#include <catch2/catch.hpp>

#include "node/peer_messages.hpp"

using meridian::conflict::HomeDurable;
using meridian::conflict::HomeEntry;
using meridian::conflict::HomePromise;
using meridian::conflict::Retirement;
using meridian::crdt::ReplicaId;

TEST_CASE("a homes file without retirements keeps the bytes it had before they existed") {
    HomeDurable d;
    d.entries.push_back(HomeEntry{1, 2, 3, {}});
    d.promises.push_back(HomePromise{1, 3, 2, false});
    const std::string bytes = meridian::node::encode(d);
    auto decoded = meridian::node::decode_home_durable(bytes);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == d);

    // Retirements go after everything else: the file without them is a prefix of the file with.
    d.retirements.push_back(Retirement{ReplicaId{1, 0}, 2, 3});
    const std::string with = meridian::node::encode(d);
    CHECK(with.size() > bytes.size());
    CHECK(with.starts_with(bytes));
    decoded = meridian::node::decode_home_durable(with);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == d);
    // A damaged tail is an error, not an empty list.
    CHECK_FALSE(meridian::node::decode_home_durable(bytes + "\x05").has_value());
}
