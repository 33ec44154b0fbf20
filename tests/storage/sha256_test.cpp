#include "storage/sha256.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "storage/fault_env.hpp"

namespace {

using meridian::node::default_env;
using meridian::node::digest_file;
using meridian::node::Sha256;
using meridian::node::sha256_hex;
using meridian::node::testing::TempDir;

// FIPS 180-2 appendix B, and the empty message.
constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* k448Bits = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr const char* kMillionA =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

void write(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// Deterministic bytes that are not one repeated value.
std::string noise(std::size_t size) {
    std::string out;
    std::uint32_t x = 2463534242u;
    for (std::size_t i = 0; i < size; ++i) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        out.push_back(static_cast<char>(x));
    }
    return out;
}

}  // namespace

TEST_CASE("SHA-256 gives the NIST test vectors") {
    CHECK(sha256_hex("") == kEmpty);
    CHECK(sha256_hex("abc") == kAbc);
    CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") == k448Bits);
    CHECK(sha256_hex(std::string(1'000'000, 'a')) == kMillionA);
}

TEST_CASE("a million 'a' hashed in uneven pieces gives the same digest as in one") {
    Sha256 hash;
    std::size_t fed = 0;
    for (std::size_t piece = 1; fed < 1'000'000; piece = piece * 3 % 65'537 + 1) {
        const std::size_t n = std::min(piece, 1'000'000 - fed);
        hash.update(std::string(n, 'a'));
        fed += n;
    }
    CHECK(hash.hex() == kMillionA);
}

TEST_CASE("hex() finalizes and starts over, and empty updates change nothing") {
    Sha256 hash;
    hash.update("ab");
    hash.update("");
    hash.update("c");
    CHECK(hash.hex() == kAbc);
    CHECK(hash.hex() == kEmpty);
    hash.update("abc");
    Sha256 moved = std::move(hash);
    CHECK(moved.hex() == kAbc);
}

TEST_CASE("a file's digest counts its bytes and matches hashing it whole, across read pieces") {
    TempDir tmp;
    for (const std::size_t size :
         {std::size_t{0}, std::size_t{1} << 20, (std::size_t{5} << 19) + 7}) {
        const std::string bytes = noise(size);
        const std::string path = tmp / ("file-" + std::to_string(size));
        write(path, bytes);
        auto digest = digest_file(default_env(), path);
        REQUIRE(digest.has_value());
        CHECK(digest->bytes == size);
        CHECK(digest->sha256 == sha256_hex(bytes));
    }
}

TEST_CASE("digesting a missing file is an error naming it") {
    TempDir tmp;
    auto digest = digest_file(default_env(), tmp / "missing");
    REQUIRE_FALSE(digest.has_value());
    CHECK(digest.error().find(tmp / "missing") != std::string::npos);
}
