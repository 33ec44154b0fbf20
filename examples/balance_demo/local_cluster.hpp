// LocalCluster: the demo's three regions as real meridian-node processes on
// loopback, started from a cluster file written into the cluster's directory
// (the regions and policies of examples/cluster.toml, with that directory's
// data dirs and, unless fixed ports are asked for, free ports). The demo's
// main thread owns it; stopping it (or its destructor) ends the nodes and
// removes the directory, unless keep_running() handed them to the user.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crdt/expected.hpp"

namespace meridian::demo {

struct RegionEndpoint {
    std::string name;
    int id = 0;
    std::uint16_t client_port = 0;
    std::uint16_t peer_port = 0;
    std::uint16_t admin_port = 0;
    pid_t pid = -1;
};

struct ClusterOptions {
    std::string node_binary;   // meridian-node
    std::string directory;     // "" = a fresh directory under $TMPDIR
    bool fixed_ports = false;  // the ports written in examples/cluster.toml (7001...)
    bool keep = false;         // the nodes may outlive the demo (else they die with it)
};

class LocalCluster {
public:
    // Writes the cluster file, starts every node and waits until each answers
    // and is linked to both peers. On failure nothing is left running and the
    // message includes the failing node's log tail.
    static Expected<std::unique_ptr<LocalCluster>, std::string> start(
        const ClusterOptions& options);

    ~LocalCluster();  // stop(), unless keep_running()
    LocalCluster(const LocalCluster&) = delete;
    LocalCluster& operator=(const LocalCluster&) = delete;

    const std::vector<RegionEndpoint>& regions() const { return regions_; }
    const std::string& directory() const { return directory_; }
    const std::string& config_path() const { return config_path_; }
    std::string pid_file() const { return directory_ + "/nodes.pid"; }
    std::string log_path(const RegionEndpoint& region) const;

    // The nodes outlive this object and the directory stays.
    void keep_running() { kept_ = true; }
    // SIGTERM to every node (SIGKILL after 10 s), then removes the directory.
    // Returns what went wrong (a node that had died, one that would not stop), if anything.
    std::string stop();
    // "" while every node runs, else which one exited and the tail of its log.
    std::string check_alive();

private:
    LocalCluster() = default;
    Expected<void, std::string> write_config(bool fixed_ports);
    Expected<void, std::string> launch(RegionEndpoint& region, const std::string& node_binary,
                                       bool keep_after_exit);
    Expected<void, std::string> await_ready();
    std::string log_tail(const RegionEndpoint& region) const;

    std::string directory_;
    bool owns_directory_ = false;  // created here, so removed here
    std::string config_path_;
    std::vector<RegionEndpoint> regions_;
    bool kept_ = false;
    bool stopped_ = false;
};

}  // namespace meridian::demo
