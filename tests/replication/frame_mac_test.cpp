#include "replication/frame_mac.hpp"

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <string>

#include "replication/auth.hpp"

using meridian::replication::derive_link_keys;
using meridian::replication::frame_tag_bytes;
using meridian::replication::FrameKey;
using meridian::replication::FrameMac;
using meridian::replication::hkdf_sha256;
using meridian::replication::hmac_sha256;

namespace {

std::string hex(const std::uint8_t* bytes, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out.push_back(digits[bytes[i] >> 4]);
        out.push_back(digits[bytes[i] & 15]);
    }
    return out;
}

std::string from_hex(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
    return out;
}

std::string le64(std::uint64_t v) {
    std::string out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
    return out;
}

}  // namespace

TEST_CASE("HKDF-SHA256 gives RFC 5869's first test vector") {
    const FrameKey okm =
        hkdf_sha256(std::string(22, '\x0b'), from_hex("000102030405060708090a0b0c"),
                    from_hex("f0f1f2f3f4f5f6f7f8f9"));
    // The first 32 of the RFC's 42 output bytes.
    CHECK(hex(okm.data(), okm.size()) ==
          "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
}

TEST_CASE(
    "a frame tag is HMAC-SHA256 of sequence, header and payload, however often the MAC is reused") {
    rc::prop("tags match the one-shot HMAC over the concatenation", [] {
        const auto key_bytes =
            *rc::gen::container<std::vector<std::uint8_t>>(32, rc::gen::arbitrary<std::uint8_t>());
        FrameKey key{};
        std::copy(key_bytes.begin(), key_bytes.end(), key.begin());
        FrameMac mac(key);
        const auto frames = *rc::gen::container<std::vector<std::pair<std::string, std::string>>>(
            rc::gen::pair(rc::gen::container<std::string>(6, rc::gen::arbitrary<char>()),
                          rc::gen::arbitrary<std::string>()));
        std::uint64_t sequence = *rc::gen::arbitrary<std::uint64_t>();
        for (const auto& [header, payload] : frames) {
            std::uint8_t tag[frame_tag_bytes];
            mac.tag(sequence, header, payload, tag);
            const auto full =
                hmac_sha256(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()),
                            le64(sequence) + header + payload);
            RC_ASSERT(hex(tag, frame_tag_bytes) == hex(full.data(), frame_tag_bytes));
            RC_ASSERT(mac.verify(sequence, header, payload, tag));
            RC_ASSERT_FALSE(mac.verify(sequence + 1, header, payload, tag));
            ++sequence;
        }
    });
}

TEST_CASE("each side's send key is the other's receive key, and nothing else matches") {
    const std::string hello_a = "hello from a, nonce 1";
    const std::string hello_b = "hello from b, nonce 2";
    const auto a = derive_link_keys("secret", hello_a, hello_b);
    const auto b = derive_link_keys("secret", hello_b, hello_a);
    CHECK(a.send == b.receive);
    CHECK(a.receive == b.send);
    CHECK(a.send != a.receive);  // a frame reflected back to its sender fails
    // Another connection (a fresh nonce), another secret, or an altered Hello: other keys.
    CHECK(derive_link_keys("secret", hello_a, "hello from b, nonce 3").send != a.send);
    CHECK(derive_link_keys("secret", "hello from a, nonce 4", hello_b).receive != a.receive);
    CHECK(derive_link_keys("another secret", hello_a, hello_b).send != a.send);
    // The two Hellos are length-prefixed, so moving bytes between them changes the keys.
    CHECK(derive_link_keys("secret", "ab", "c").send != derive_link_keys("secret", "a", "bc").send);
}
