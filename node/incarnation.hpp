// Which epoch this run of a region writes as. A region continues its epoch
// unless it may have lost writes its peers already hold: after an unclean
// shutdown of a machine (not only of the process: the OS keeps what was
// written) under fsync = everysec or no. Then it starts epoch + 1, a new
// replica id, so no dot or counter entry is ever reused with other contents.
//
// data_dir/incarnation records the epoch, fsync mode and boot id of the
// current run; data_dir/clean_shutdown is written last by a clean shutdown.
// Start-up only (event loop not running yet).
#pragma once

#include <cstdint>
#include <string>

#include "crdt/version_vector.hpp"
#include "node/cluster_config.hpp"
#include "storage/env.hpp"

namespace meridian::node {

struct Incarnation {
    std::uint16_t epoch = 0;
    std::string reason;  // why this epoch, for the start-up log line
};

// Decides the epoch for `region` from the files left by the previous run and
// the recovered version vector (which names every epoch of this region that
// ever wrote), records the new run, and clears the clean-shutdown mark.
// `wal_repaired`: recovery dropped records at a corruption, so whatever the
// previous run did, this one starts a new epoch. `retired_below`: a failover
// retired this region's epochs below it (node/home_owners.hpp), so this run
// writes as one at least that high.
Expected<Incarnation, std::string> begin_incarnation(Env& env, const std::string& data_dir,
                                                     crdt::RegionId region, FsyncMode fsync,
                                                     const crdt::VersionVector& recovered,
                                                     bool wal_repaired = false,
                                                     std::uint16_t retired_below = 0);

// The last step of a clean shutdown, after the WAL is synced.
Expected<void, std::string> mark_clean_shutdown(Env& env, const std::string& data_dir);

// This machine's boot id (changes at every boot); empty if unknown.
std::string current_boot_id();

}  // namespace meridian::node
