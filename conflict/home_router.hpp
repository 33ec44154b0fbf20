// Home routing: which region executes the writes of a key whose policy says
// route = "home". Pure functions over the policy, the key and the directory:
// callable from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "conflict/policy.hpp"
#include "conflict/region_directory.hpp"
#include "crdt/expected.hpp"
#include "crdt/ids.hpp"

namespace meridian::conflict {

// The Redis hash tag of `key`: what lies between the first '{' and the first
// '}' after it, if that is non-empty; nullopt otherwise.
std::optional<std::string_view> hash_tag(std::string_view key);

// The region where writes of `key` execute under `policy`. Errors are one
// printable line fit for a client's -ERR reply, e.g.
//   key acct:42 has no {region} hash tag
//   hash tag {mars} of key acct:{mars}:1 names no region
// A policy that is not home-routed has no home and is an error too.
Expected<crdt::RegionId, std::string> home_of(const Policy& policy, std::string_view key,
                                              const RegionDirectory& regions);

}  // namespace meridian::conflict
