#include "replication/frame_mac.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace meridian::replication {

namespace {

// As in auth.cpp: there is no safe value to return when OpenSSL cannot hash, since a fixed key or
// tag would let anyone forge frames.
[[noreturn]] void fail_closed(const char* what) {
    std::fprintf(stderr, "meridian: fatal: OpenSSL %s failed\n", what);
    std::abort();
}

void append_length_prefixed(std::string_view part, std::string& out) {
    const auto n = static_cast<std::uint32_t>(part.size());
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
    out.append(part);
}

// Labels the derivation, so these keys can never equal a key derived for another purpose.
constexpr std::string_view link_key_salt = "meridian frame mac v2";

FrameKey direction_key(std::string_view secret, std::string_view sender_hello,
                       std::string_view receiver_hello) {
    std::string info;
    info.reserve(8 + sender_hello.size() + receiver_hello.size());
    append_length_prefixed(sender_hello, info);
    append_length_prefixed(receiver_hello, info);
    return hkdf_sha256(secret, link_key_salt, info);
}

}  // namespace

FrameKey hkdf_sha256(std::string_view secret, std::string_view salt, std::string_view info) {
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
    if (!kdf) fail_closed("HKDF fetch");
    EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (!ctx) fail_closed("HKDF context");
    char digest[] = "SHA256";
    // OSSL_PARAM takes non-const pointers; OpenSSL only reads these.
    auto bytes = [](std::string_view s) { return const_cast<char*>(s.data() ? s.data() : ""); };
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, bytes(secret), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, bytes(salt), salt.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, bytes(info), info.size()),
        OSSL_PARAM_construct_end(),
    };
    FrameKey key{};
    const int ok = EVP_KDF_derive(ctx, key.data(), key.size(), params);
    EVP_KDF_CTX_free(ctx);
    if (ok != 1) fail_closed("HKDF-SHA256");
    return key;
}

LinkKeys derive_link_keys(std::string_view secret, std::string_view own_hello,
                          std::string_view peer_hello) {
    return LinkKeys{direction_key(secret, own_hello, peer_hello),
                    direction_key(secret, peer_hello, own_hello)};
}

struct FrameMac::Context {
    EVP_MAC_CTX* mac = nullptr;
    ~Context() { EVP_MAC_CTX_free(mac); }
};

FrameMac::FrameMac(const FrameKey& key) : context_(std::make_unique<Context>()) {
    EVP_MAC* hmac = EVP_MAC_fetch(nullptr, OSSL_MAC_NAME_HMAC, nullptr);
    if (!hmac) fail_closed("HMAC fetch");
    context_->mac = EVP_MAC_CTX_new(hmac);
    EVP_MAC_free(hmac);
    if (!context_->mac) fail_closed("HMAC context");
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(context_->mac, key.data(), key.size(), params) != 1) fail_closed("HMAC init");
}

FrameMac::~FrameMac() = default;
FrameMac::FrameMac(FrameMac&&) noexcept = default;
FrameMac& FrameMac::operator=(FrameMac&&) noexcept = default;

void FrameMac::tag(std::uint64_t sequence, std::string_view header, std::string_view payload,
                   std::uint8_t* out) {
    unsigned char seq[8];
    for (int i = 0; i < 8; ++i) seq[i] = static_cast<unsigned char>(sequence >> (8 * i));
    unsigned char full[EVP_MAX_MD_SIZE];
    std::size_t length = 0;
    EVP_MAC_CTX* mac = context_->mac;
    // A null key restarts the MAC under the key given at construction (OpenSSL 3.0.3 and later).
    const bool ok =
        EVP_MAC_init(mac, nullptr, 0, nullptr) == 1 && EVP_MAC_update(mac, seq, sizeof seq) == 1 &&
        EVP_MAC_update(mac, reinterpret_cast<const unsigned char*>(header.data()), header.size()) ==
            1 &&
        EVP_MAC_update(mac, reinterpret_cast<const unsigned char*>(payload.data()),
                       payload.size()) == 1 &&
        EVP_MAC_final(mac, full, &length, sizeof full) == 1 && length >= frame_tag_bytes;
    if (!ok) fail_closed("HMAC-SHA256");
    std::copy(full, full + frame_tag_bytes, out);
}

bool FrameMac::verify(std::uint64_t sequence, std::string_view header, std::string_view payload,
                      const std::uint8_t* tag) {
    std::uint8_t expected[frame_tag_bytes];
    this->tag(sequence, header, payload, expected);
    return CRYPTO_memcmp(expected, tag, frame_tag_bytes) == 0;
}

}  // namespace meridian::replication
