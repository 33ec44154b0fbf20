#include "crdt/hash.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "crdt/serialization.hpp"
#include "laws.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Hash;
using meridian::crdt::Hlc;
using meridian::crdt::ReplicaId;
using meridian::test::HashModel;
using Items = std::vector<std::pair<std::string, std::string>>;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

Hlc at(std::uint64_t ms) { return Hlc::from_parts(ms, 0); }

}  // namespace

TEST_CASE("hash: join is commutative, associative and idempotent") {
    meridian::test::check_join_laws<HashModel>();
}

TEST_CASE("hash: joining an hset's, hincrby's, hdel's or del's delta gives the mutated state") {
    meridian::test::check_delta_mutators<HashModel>();
}

TEST_CASE(
    "hash: replicas converge on the latest unremoved write of each field plus its unremoved "
    "increments") {
    meridian::test::check_convergence<HashModel>();
}

TEST_CASE("hash: hset, hget, hdel and re-hset at one replica") {
    Hash h;
    h.set(us, at(1), "name", "ada");
    h.set(us, at(2), "city", "paris");
    CHECK(h.value_of("name") == "ada");
    CHECK(h.size() == 2);
    h.set(us, at(3), "name", "grace");
    CHECK(h.items() == Items{{"city", "paris"}, {"name", "grace"}});
    h.remove("name");
    CHECK_FALSE(h.contains("name"));
    CHECK(h.value_of("name") == std::nullopt);
    h.set(us, at(4), "name", "alan");
    CHECK(h.value_of("name") == "alan");
    // One write held per field, one dot per hset seen.
    CHECK(h.fields().at("name").writes.size() == 1);
    CHECK(h.context().dot_count() == 4);
}

TEST_CASE("hash: a field set concurrently with its hdel or the key's del survives (add-wins)") {
    Hash a;
    const Hash first = a.set(us, at(1), "f", "1");
    Hash b;
    b.join(first);
    const Hash removed = b.remove("f");
    const Hash cleared = b.clear();
    const Hash concurrent = a.set(us, at(2), "f", "2");  // a had not seen the removes
    a.join(removed);
    a.join(cleared);
    b.join(concurrent);
    CHECK(a == b);
    CHECK(a.value_of("f") == "2");
}

TEST_CASE("hash: concurrent hsets of one field keep both writes and show the later stamp") {
    Hash a, b;
    const Hash from_a = a.set(us, at(5), "f", "from us");
    const Hash from_b = b.set(eu, at(5), "f", "from eu");  // same ms: the writer decides
    a.join(from_b);
    b.join(from_a);
    CHECK(a == b);
    CHECK(a.value_of("f") == "from eu");
    CHECK(a.fields().at("f").writes.size() == 2);
    // The next hset anywhere observed both and leaves one.
    a.set(us, at(6), "f", "merged");
    CHECK(a.fields().at("f").writes.size() == 1);
}

TEST_CASE("hash: hincrby adds to the field's integer, and concurrent hincrbys all count") {
    Hash a, b;
    b.join(a.set(us, at(1), "n", "10"));
    const Hash plus_a = *a.increment(us, "n", 5);
    const Hash plus_b = *b.increment(eu, "n", -2);
    a.join(plus_b);
    b.join(plus_a);
    CHECK(a == b);
    CHECK(a.value_of("n") == "13");
    // An hincrby of an absent field starts from 0.
    REQUIRE(a.increment(us, "fresh", 7));
    CHECK(a.value_of("fresh") == "7");
}

TEST_CASE("hash: an hset resets the increments it observed, and a concurrent hincrby adds to it") {
    Hash a, b;
    const Hash seed = a.set(us, at(1), "n", "10");
    b.join(seed);
    b.join(*a.increment(us, "n", 5));  // both see 15
    const Hash reset = a.set(us, at(2), "n", "100");
    const Hash late = *b.increment(eu, "n", 1);  // not seen by the hset
    a.join(late);
    b.join(reset);
    CHECK(a == b);
    CHECK(a.value_of("n") == "101");
}

TEST_CASE("hash: increments concurrent with an hset of a non-number leave the text shown") {
    Hash a, b;
    b.join(a.set(us, at(1), "n", "1"));
    const Hash text = a.set(us, at(2), "n", "hello");
    const Hash plus = *b.increment(eu, "n", 3);
    a.join(plus);
    b.join(text);
    CHECK(a == b);
    CHECK(a.value_of("n") == "hello");
}

TEST_CASE(
    "hash: an hdel of an incremented field hides it, and increments arriving late stay reset") {
    Hash a, b;
    const Hash plus = *a.increment(us, "n", 4);
    const Hash removed = a.remove("n");
    CHECK_FALSE(a.contains("n"));
    CHECK(a.empty());
    // Out of order: the remove first, then the increment it observed.
    b.join(removed);
    b.join(plus);
    CHECK(b.empty());
    CHECK(b == a);
    // The field is held, hidden, for its baselines; it comes back at 0 plus new increments.
    REQUIRE(a.increment(us, "n", 2));
    CHECK(a.value_of("n") == "2");
}

TEST_CASE("hash: an increment past the counter's own range is refused and changes nothing") {
    Hash h;
    const auto max = std::numeric_limits<std::int64_t>::max();
    REQUIRE(h.increment(us, "n", max));
    const Hash before = h;
    const auto refused = h.increment(us, "n", 1);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == meridian::crdt::Error::overflow);
    CHECK(h == before);
    CHECK(h.value_of("n") == std::to_string(max));
}

TEST_CASE("hash: only canonical integers count as numbers") {
    using meridian::crdt::canonical_int;
    CHECK(canonical_int("0") == 0);
    CHECK(canonical_int("-12") == -12);
    CHECK(canonical_int("9223372036854775807") == std::numeric_limits<std::int64_t>::max());
    for (const char* text : {"", "-", "+1", "01", "-0", " 1", "1 ", "1.0", "9223372036854775808", "x"})
        CHECK(canonical_int(text) == std::nullopt);
}

TEST_CASE("hash: a decoded field must hold state and its dots must be in the context") {
    using namespace meridian::crdt;
    Hash h;
    h.set(us, at(1), "f", "v");
    const std::string good = encode(h);
    REQUIRE(decode<Hash>(good));
    // The same field with its write's dot taken out of the context.
    Hash outside;
    outside.set(us, at(1), "f", "v");
    std::string bytes = encode(outside);
    // The context is the encoding's tail: an empty version vector and cloud re-encode as
    // two zero size tags.
    const std::string empty_context = encode(DotContext{});
    const std::string held_context = encode(outside.context());
    REQUIRE(bytes.size() > held_context.size());
    bytes.replace(bytes.size() - held_context.size(), held_context.size(), empty_context);
    const auto refused = decode<Hash>(bytes);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("outside its context") != std::string::npos);
}
