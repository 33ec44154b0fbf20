// SHA-256 for backups and the WAL archive: file digests an operator can check with sha256sum,
// and the manifest's self-checksum. A Sha256 belongs to one thread; the free functions keep no
// state and may run on any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"
#include "storage/env.hpp"

namespace meridian::node {

// Incremental, so a file is hashed in pieces as it is read or copied.
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(std::string_view bytes);
    // The digest of everything updated so far, as 64 lowercase hex digits; starts over afterwards.
    std::string hex();

private:
    struct Context;
    std::unique_ptr<Context> context_;
};

std::string sha256_hex(std::string_view bytes);

struct FileDigest {
    std::uint64_t bytes = 0;
    std::string sha256;  // 64 lowercase hex digits
    friend bool operator==(const FileDigest&, const FileDigest&) = default;
};

// Reads the file in 1 MiB pieces, so a large segment or snapshot is never held whole.
Expected<FileDigest, std::string> digest_file(Env& env, const std::string& path);

}  // namespace meridian::node
