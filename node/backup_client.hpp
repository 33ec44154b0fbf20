// `meridian-node backup`: asks a running region for MERIDIAN BACKUP over its
// client port, so a cron job needs nothing but the binary and the cluster file.
#pragma once

#include <string>

#include "crdt/expected.hpp"

namespace meridian::node {

// Connects to `client_listen` (host:port), authenticates with `password` when
// it is not empty, sends MERIDIAN BACKUP `dir` and waits, without a time limit
// (a large backup takes minutes), for the answer. Returns the node's status
// line ("OK backup verified: ..."), or its error / a connection error.
Expected<std::string, std::string> request_backup(const std::string& client_listen, const std::string& password,
                                                  const std::string& dir);

}  // namespace meridian::node
