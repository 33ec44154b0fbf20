#include "replication/lz4_stream.hpp"

#include <lz4.h>
#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

using meridian::replication::lz4_window_bytes;
using meridian::replication::StreamCompressor;
using meridian::replication::StreamDecompressor;

namespace {

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

// Text-like input: words from a small vocabulary, so LZ4 finds matches within and across blocks.
std::string wordy(std::mt19937_64& rng, std::size_t n) {
    static const char* const words[] = {
        "SET ",     "user:", "session:", "{\"region\":\"eu-west\",", "\"ts\":", "INCRBY ",
        "balance:", "42 ",   "\"ok\"} "};
    std::string s;
    while (s.size() < n) {
        s += words[rng() % std::size(words)];
        s += std::to_string(rng() % 1000);
    }
    s.resize(n);
    return s;
}

std::size_t unlimited(std::string_view input) {
    return static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(input.size())));
}

// Compresses `input` into a fresh string with no budget limit; the block, or "" if refused.
std::string compress(StreamCompressor& c, std::string_view input) {
    std::string block;
    REQUIRE(c.compress(input, unlimited(input), block));
    return block;
}

}  // namespace

TEST_CASE("a block decodes back to its input") {
    std::mt19937_64 rng(1);
    const std::string input = wordy(rng, 5000);
    StreamCompressor c;
    StreamDecompressor d;
    const std::string block = compress(c, input);
    CHECK(block.size() < input.size());
    std::string out;
    REQUIRE(d.decompress(block, input.size(), out).has_value());
    CHECK(out == input);
}

TEST_CASE("compress appends to what the output already holds") {
    std::mt19937_64 rng(2);
    const std::string input = wordy(rng, 1000);
    StreamCompressor c;
    std::string out = "prefix";
    REQUIRE(c.compress(input, unlimited(input), out));
    CHECK(out.compare(0, 6, "prefix") == 0);
    StreamDecompressor d;
    std::string decoded;
    REQUIRE(d.decompress(std::string_view(out).substr(6), input.size(), decoded).has_value());
    CHECK(decoded == input);
}

TEST_CASE("a repeated input compresses to a fraction of its first block") {
    std::mt19937_64 rng(3);
    const std::string input = random_bytes(rng, 1000);  // incompressible on its own
    StreamCompressor c;
    StreamDecompressor d;
    const std::string first = compress(c, input);
    const std::string second = compress(c, input);
    CHECK(first.size() >= input.size());
    CHECK(second.size() < 32);
    std::string out;
    REQUIRE(d.decompress(first, input.size(), out).has_value());
    CHECK(out == input);
    REQUIRE(d.decompress(second, input.size(), out).has_value());
    CHECK(out == input);
}

TEST_CASE("an input that does not fit its budget leaves the output and the history untouched") {
    std::mt19937_64 rng(4);
    const std::string kept = random_bytes(rng, 1000);
    const std::string refused = random_bytes(rng, 1000);
    StreamCompressor c;
    StreamDecompressor d;
    const std::string first = compress(c, kept);

    // Twice: a first refusal after successes and one right after a refusal are undone
    // differently (see StreamCompressor::compress).
    for (int i = 0; i < 2; ++i) {
        std::string out = "untouched";
        CHECK_FALSE(c.compress(refused, 100, out));
        CHECK(out == "untouched");
    }

    // Had the refused input entered the history, this block would point into bytes the
    // decompressor never saw.
    const std::string second = compress(c, refused);
    CHECK(second.size() >= refused.size());
    std::string decoded;
    REQUIRE(d.decompress(first, kept.size(), decoded).has_value());
    REQUIRE(d.decompress(second, refused.size(), decoded).has_value());
    CHECK(decoded == refused);
}

TEST_CASE("the history reaches back a full window but not beyond") {
    std::mt19937_64 rng(5);
    const std::string marker = random_bytes(rng, 500);
    // Zeros as filler: they occupy the window without evicting the marker from LZ4's hash table,
    // so whether the marker is found depends on the distance alone.
    const std::string filler(1000, '\0');
    StreamCompressor c;
    StreamDecompressor d;
    std::string out;
    auto roundtrip = [&](const std::string& input) {
        const std::string block = compress(c, input);
        REQUIRE(d.decompress(block, input.size(), out).has_value());
        REQUIRE(out == input);
        return block.size();
    };
    CHECK(roundtrip(marker) >= marker.size());
    for (int i = 0; i < 64; ++i) roundtrip(filler);  // the marker now ends 64,000 bytes back
    CHECK(roundtrip(marker) < 32);
    for (int i = 0; i < 66; ++i) roundtrip(filler);  // and now 66,000: out of reach
    CHECK(roundtrip(marker) >= marker.size());
}

TEST_CASE("long streams of mixed sizes and refused inputs stay in step") {
    const std::uint64_t seed = GENERATE(11, 12, 13);
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    StreamCompressor c;
    StreamDecompressor d;
    std::vector<std::string> history;
    std::size_t refused = 0;
    for (int i = 0; i < 600; ++i) {
        INFO("input " << i);
        std::size_t size = rng() % 2000;
        if (rng() % 20 == 0) size = lz4_window_bytes - 2 + rng() % 5;  // around the window
        if (rng() % 40 == 0) size = 70'000 + rng() % 150'000;          // compressed in place
        std::string input = rng() % 3 == 0 ? random_bytes(rng, size) : wordy(rng, size);
        // Sometimes echo an earlier input, so blocks reach back into the history.
        if (!history.empty() && rng() % 4 == 0) input = history[rng() % history.size()];
        std::string block;
        const std::size_t budget = rng() % 5 == 0 ? input.size() / 2 : unlimited(input);
        if (!c.compress(input, budget, block)) {
            ++refused;
            CHECK(block.empty());
            continue;
        }
        std::string out;
        const auto done = d.decompress(block, input.size(), out);
        REQUIRE(done.has_value());
        REQUIRE(out == input);
        history.push_back(std::move(input));
        if (history.size() > 50) history.erase(history.begin());
    }
    CHECK(refused > 0);
}

TEST_CASE("a block that decodes to another size than announced is refused and forgotten") {
    std::mt19937_64 rng(6);
    const std::string input = wordy(rng, 3000);
    StreamCompressor c;
    const std::string block = compress(c, input);
    StreamDecompressor d;
    std::string out;
    CHECK_FALSE(d.decompress(block, input.size() - 1, out).has_value());
    CHECK_FALSE(d.decompress(block, input.size() + 1, out).has_value());
    CHECK_FALSE(d.decompress(block, 0, out).has_value());
    // The failures left no trace in the history: the next block still decodes.
    REQUIRE(d.decompress(block, input.size(), out).has_value());
    CHECK(out == input);
    const std::string again = compress(c, input);
    REQUIRE(d.decompress(again, input.size(), out).has_value());
    CHECK(out == input);
}

TEST_CASE("a raw size beyond what the block could expand to is refused") {
    StreamDecompressor d;
    std::string out;
    const std::string block(10, '\0');
    const auto result = d.decompress(block, StreamDecompressor::max_expansion(10) + 1, out);
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().find("more than an LZ4 block") != std::string::npos);
    CHECK(out.empty());
    CHECK_FALSE(d.decompress("", 0, out).has_value());
}

TEST_CASE("the expansion bound holds for the most compressible input") {
    const std::string zeros(1 << 20, '\0');
    StreamCompressor c;
    const std::string block = compress(c, zeros);
    CHECK(StreamDecompressor::max_expansion(block.size()) >= zeros.size());
    StreamDecompressor d;
    std::string out;
    REQUIRE(d.decompress(block, zeros.size(), out).has_value());
    CHECK(out == zeros);
}

TEST_CASE("a match reaching before the start of the history is refused") {
    // Token: no literals, a 4-byte match at offset 0xFFFF, with nothing decoded before it.
    const std::string block("\x00\xff\xff", 3);
    StreamDecompressor d;
    std::string out;
    CHECK_FALSE(d.decompress(block, 4, out).has_value());
}

TEST_CASE("garbage blocks are refused or decode to exactly the announced size") {
    rc::prop("any bytes, any size, after some history",
             [](const std::string& block, std::uint16_t raw_size) {
                 StreamCompressor c;
                 StreamDecompressor d;
                 const std::string seed_input =
                     "some history the garbage may point into, twice: "
                     "some history the garbage may point into";
                 std::string first;
                 RC_ASSERT(c.compress(seed_input, unlimited(seed_input), first));
                 std::string out;
                 RC_ASSERT(d.decompress(first, seed_input.size(), out).has_value());
                 const auto result = d.decompress(block, raw_size, out);
                 if (result) {
                     RC_ASSERT(out.size() == raw_size);
                 } else {
                     RC_ASSERT(out.empty());
                 }
             });
}
