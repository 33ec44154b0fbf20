#include "storage/sha256.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

namespace meridian::node {

namespace {

constexpr std::size_t kReadPiece = 1u << 20;

// OpenSSL fails here only when out of memory or misinstalled; there is no sane way on.
[[noreturn]] void fail_closed(const char* what) {
    std::fprintf(stderr, "meridian: fatal: OpenSSL %s failed\n", what);
    std::abort();
}

}  // namespace

struct Sha256::Context {
    EVP_MD_CTX* md = nullptr;
    ~Context() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
    context_->md = EVP_MD_CTX_new();
    if (!context_->md) fail_closed("SHA-256 context");
    if (EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr) != 1) fail_closed("SHA-256 init");
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(std::string_view bytes) {
    if (bytes.empty()) return;
    if (EVP_DigestUpdate(context_->md, bytes.data(), bytes.size()) != 1) {
        fail_closed("SHA-256 update");
    }
}

std::string Sha256::hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(context_->md, digest, &length) != 1 || length != 32) {
        fail_closed("SHA-256 final");
    }
    if (EVP_DigestInit_ex(context_->md, EVP_sha256(), nullptr) != 1) fail_closed("SHA-256 init");
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * length);
    for (unsigned int i = 0; i < length; ++i) {
        out.push_back(kDigits[digest[i] >> 4]);
        out.push_back(kDigits[digest[i] & 0x0f]);
    }
    return out;
}

std::string sha256_hex(std::string_view bytes) {
    Sha256 hash;
    hash.update(bytes);
    return hash.hex();
}

Expected<FileDigest, std::string> digest_file(Env& env, const std::string& path) {
    Sha256 hash;
    FileDigest digest;
    for (;;) {
        auto piece = env.read_range(path, digest.bytes, kReadPiece);
        if (!piece) return unexpected(piece.error());
        hash.update(*piece);
        digest.bytes += piece->size();
        if (piece->size() < kReadPiece) break;
    }
    digest.sha256 = hash.hex();
    return digest;
}

}  // namespace meridian::node
