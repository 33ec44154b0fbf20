// A small file written whole and read whole, that says when it is damaged: an 8-byte magic
// naming its kind, the body's length and CRC32C, then the body. Written with
// write_file_durably (tmp, fsync, rename, fsync of the folder), so a crash leaves the old
// contents or the new, never a mix. For state that is rewritten rarely and must not be
// silently wrong: the home owners' votes and commits (node/home_owners.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"
#include "storage/env.hpp"

namespace meridian::node {

// `magic` is exactly 8 bytes.
Expected<void, std::string> write_checked_file(Env& env, const std::string& path,
                                               std::string_view magic, std::string_view body);

// The body; nullopt when there is no file. An error (one line naming the file and the damage)
// when it is not a file of this kind, is cut short, or its checksum does not match.
Expected<std::optional<std::string>, std::string> read_checked_file(Env& env,
                                                                    const std::string& path,
                                                                    std::string_view magic);

}  // namespace meridian::node
