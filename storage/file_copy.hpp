// Durable file copies for backups and the WAL archive: the destination appears whole, under its
// final name, only once its bytes and its directory entry are on disk, so a crash leaves either
// no file or the complete one (plus perhaps a stale `.tmp` that the next copy replaces). Stateless;
// any thread, but one writer per destination path at a time.
#pragma once

#include <string>
#include <string_view>

#include "crdt/expected.hpp"
#include "storage/env.hpp"
#include "storage/sha256.hpp"

namespace meridian::node {

// Copies `from` in 1 MiB pieces to `to + ".tmp"`, fdatasyncs it, renames it over `to` and fsyncs
// the directory. Returns the size and SHA-256 of exactly the bytes written. On a failure before
// the rename the tmp file is removed and `to` is untouched; if only the final directory sync
// fails, `to` is complete but may not survive a crash.
Expected<FileDigest, std::string> copy_file_durably(Env& env, const std::string& from,
                                                    const std::string& to);

// The same protocol for small contents held in memory (manifests, checksum sidecars).
Expected<void, std::string> write_file_durably(Env& env, const std::string& path,
                                               std::string_view contents);

}  // namespace meridian::node
