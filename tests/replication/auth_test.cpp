#include "replication/auth.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <set>
#include <string>

using meridian::replication::Digest;
using meridian::replication::digests_equal;
using meridian::replication::hmac_sha256;
using meridian::replication::Nonce;
using meridian::replication::random_nonce;

namespace {

std::string hex(const Digest& digest, std::size_t bytes = 32) {
    std::string out;
    char buf[3];
    for (std::size_t i = 0; i < bytes; ++i) {
        std::snprintf(buf, sizeof buf, "%02x", digest[i]);
        out += buf;
    }
    return out;
}

std::string bytes(std::size_t n, char c) {
    return std::string(n, c);
}

struct Rfc4231Case {
    const char* name;
    std::string key;
    std::string data;
    const char* expected;  // hex; shorter than 64 digits for the truncated case
};

}  // namespace

TEST_CASE("hmac_sha256 matches the RFC 4231 test vectors") {
    std::string key4;
    for (char c = 0x01; c <= 0x19; ++c) key4 += c;
    const Rfc4231Case cases[] = {
        {"case 1", bytes(20, '\x0b'), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"case 2", "Jefe", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {"case 3", bytes(20, '\xaa'), bytes(50, '\xdd'),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {"case 4", key4, bytes(50, '\xcd'),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {"case 5 (truncated to 128 bits)", bytes(20, '\x0c'), "Test With Truncation",
         "a3b6167473100ee06e0c796c2955552b"},
        {"case 6 (key longer than a block)", bytes(131, '\xaa'),
         "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {"case 7 (key and data longer than a block)", bytes(131, '\xaa'),
         "This is a test using a larger than block-size key and a larger than block-size data. "
         "The key needs to be hashed before being used by the HMAC algorithm.",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (const auto& c : cases) {
        INFO(c.name);
        const std::string expected = c.expected;
        CHECK(hex(hmac_sha256(c.key, c.data), expected.size() / 2) == expected);
    }
}

TEST_CASE("hmac_sha256 of an empty key and message is the known value") {
    CHECK(hex(hmac_sha256({}, {})) ==
          "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("hmac_sha256 depends on both the key and the message") {
    const Digest base = hmac_sha256("secret", "challenge");
    CHECK(hmac_sha256("secret", "challenge") == base);
    CHECK(hmac_sha256("secreT", "challenge") != base);
    CHECK(hmac_sha256("secret", "challengE") != base);
}

TEST_CASE("digests_equal accepts equal digests and refuses any single differing bit") {
    const Digest a = hmac_sha256("key", "message");
    CHECK(digests_equal(a, a));
    CHECK(digests_equal(a, Digest(a)));
    for (std::size_t i = 0; i < a.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            Digest b = a;
            b[i] ^= static_cast<std::uint8_t>(1u << bit);
            INFO("byte " << i << " bit " << bit);
            CHECK_FALSE(digests_equal(a, b));
        }
    }
}

TEST_CASE("random nonces do not repeat and are not all zero") {
    std::set<Nonce> seen;
    for (int i = 0; i < 256; ++i) {
        const Nonce n = random_nonce();
        CHECK(n != Nonce{});
        CHECK(seen.insert(n).second);
    }
}
