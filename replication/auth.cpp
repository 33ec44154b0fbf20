#include "replication/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>

namespace meridian::replication {

namespace {

[[noreturn]] void fail_closed(const char* what) {
    std::fprintf(stderr, "meridian: fatal: OpenSSL %s failed\n", what);
    std::abort();
}

// OpenSSL wants a non-null pointer even for zero bytes; a default string_view has none.
const unsigned char* bytes_of(std::string_view s) {
    static const unsigned char empty = 0;
    return s.data() ? reinterpret_cast<const unsigned char*>(s.data()) : &empty;
}

}  // namespace

Digest hmac_sha256(std::string_view key, std::string_view message) {
    // RFC 2104 replaces a key longer than SHA-256's 64-byte block by its hash; doing it here keeps
    // the key's length within OpenSSL's int.
    Digest hashed_key{};
    if (key.size() > 64) {
        const int ok =
            EVP_Digest(key.data(), key.size(), hashed_key.data(), nullptr, EVP_sha256(), nullptr);
        if (ok != 1) fail_closed("SHA-256");
        key = std::string_view(reinterpret_cast<const char*>(hashed_key.data()), hashed_key.size());
    }
    Digest digest{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), bytes_of(key), static_cast<int>(key.size()), bytes_of(message),
             message.size(), digest.data(), &length) == nullptr ||
        length != digest.size()) {
        fail_closed("HMAC-SHA256");
    }
    return digest;
}

bool digests_equal(const Digest& a, const Digest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Nonce random_nonce() {
    Nonce nonce{};
    if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) fail_closed("RAND_bytes");
    return nonce;
}

}  // namespace meridian::replication
