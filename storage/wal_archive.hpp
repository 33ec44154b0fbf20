// Continuous WAL archiving, the file layer: closed WAL segments copied into an archive directory
// under their own names (`<20-digit first lsn>.wal`), each followed by a `<name>.sha256` sidecar
// in sha256sum's format, so `sha256sum -c *.sha256` checks the archive and read_wal() reads it
// like a WAL directory. Stateless; one archiver per archive directory at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crdt/expected.hpp"
#include "storage/env.hpp"

namespace meridian::node {

struct ArchivedSegment {
    std::uint64_t first_lsn = 0;
    std::string path;
    std::string sha256;  // from the sidecar
    friend bool operator==(const ArchivedSegment&, const ArchivedSegment&) = default;
};

// Copies a closed segment (never the one being written) into archive_dir, created if missing,
// then writes its sidecar: a segment counts as archived only once its sidecar exists. Idempotent:
// a segment already archived with the same SHA-256 is left alone. One archived under the same
// name with other contents (lsns reused after a WAL repair) is an error, never overwritten.
Expected<ArchivedSegment, std::string> archive_segment(Env& env, const std::string& segment_path,
                                                       const std::string& archive_dir);

// The archived segments in lsn order. A `.wal` without a sidecar (a crash between the copy and
// the sidecar) is not archived yet: it is left out, and its path added to `incomplete` when given.
// A malformed sidecar, or one naming another file, is an error naming the sidecar.
Expected<std::vector<ArchivedSegment>, std::string> list_archive(
    Env& env, const std::string& archive_dir, std::vector<std::string>* incomplete = nullptr);

// Recomputes the archived file's SHA-256 and compares it with the sidecar's.
Expected<void, std::string> verify_archived(Env& env, const ArchivedSegment& segment);

}  // namespace meridian::node
