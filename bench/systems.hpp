// The two systems under test, started as child processes on loopback with scratch data dirs:
// a Meridian cluster (1 or 3 regions, region 1 takes the writes) and redis-server (a master with
// 0 or 2 replicas). Both can put a counting relay (meridian-fault-proxy) on every link that
// leaves the writer, so replication bytes are counted the same way for both, and delayed.
// Used from the bench's main thread only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support.hpp"

namespace meridian::bench {

// What to start, and the durability both systems run with.
struct Launch {
    std::string node;                // meridian-node
    std::string proxy;               // meridian-fault-proxy
    std::string redis_server;        // redis-server
    std::string fsync = "everysec";  // Meridian fsync = Redis appendfsync: always|everysec|no
};

// A meridian-fault-proxy in front of `target_port`: counts and can delay what passes.
class Relay {
public:
    Relay(const Launch& bins, std::uint16_t target_port, const std::string& log_path);
    std::uint16_t port() const { return port_; }
    // One control command ("delay 50", "status", "blackhole both"), its answer line.
    std::string control(const std::string& line);
    // Bytes delivered from the dialer to the target (forward) and back (backward).
    std::pair<std::uint64_t, std::uint64_t> bytes();

private:
    std::unique_ptr<Child> child_;
    std::uint16_t port_ = 0;
    std::uint16_t control_port_ = 0;
};

// What every figure needs from a system: where to write, where to read replicas, when the
// replicas hold everything, and what was sent to them.
class System {
public:
    virtual ~System() = default;
    virtual std::string name() const = 0;
    virtual std::uint16_t writer_port() const = 0;
    virtual std::size_t replica_count() const = 0;
    virtual std::uint16_t replica_port(std::size_t i) const = 0;
    // True once every running replica holds every write the writer has answered.
    virtual bool wait_replicated(int timeout_ms) = 0;
    // The relay on the link from the writer to replica i, when started with relays.
    virtual Relay* relay(std::size_t i) = 0;
    // The replication bytes sent by the writer, summed over links, as the system reports them
    // {wire, before compression}; {0, 0} when it does not report them.
    virtual std::pair<std::uint64_t, std::uint64_t> reported_stream_bytes() = 0;
};

struct MeridianOptions {
    int regions = 3;
    int started = -1;  // how many regions to start now (the rest with start_region); -1: all
    bool relays = false;
    std::string extra_toml;  // top-level tunables
};

class MeridianCluster : public System {
public:
    MeridianCluster(const Launch& bins, MeridianOptions options);
    ~MeridianCluster() override;

    std::string name() const override { return "meridian"; }
    std::uint16_t writer_port() const override { return regions_[0].client_port; }
    std::size_t replica_count() const override { return regions_.size() - 1; }
    std::uint16_t replica_port(std::size_t i) const override { return regions_[i + 1].client_port; }
    bool wait_replicated(int timeout_ms) override;
    Relay* relay(std::size_t i) override { return i < relays_.size() ? relays_[i].get() : nullptr; }
    std::pair<std::uint64_t, std::uint64_t> reported_stream_bytes() override;

    const std::string& region_name(std::size_t i) const { return regions_[i].name; }
    // Starts region i (not yet running) and waits until it answers PING.
    void start_region(std::size_t i);
    // Waits until every running region has a link to every other running one.
    void wait_connected(int timeout_ms);
    // Region i's version vector ("us-east.0" -> seq).
    std::map<std::string, std::uint64_t> version_vector(std::size_t i);

private:
    struct Region {
        std::string name;
        std::uint16_t client_port = 0, peer_port = 0;
        std::string config_path, data_dir;
        std::unique_ptr<Child> child;
    };

    std::string config_text(std::size_t self) const;

    Launch bins_;
    MeridianOptions options_;
    ScratchDir root_;
    std::vector<std::unique_ptr<Relay>> relays_;  // writer -> region i+1
    std::vector<Region> regions_;
};

struct RedisOptions {
    int replicas = 2;
    int started = -1;  // replicas to start now (the rest with start_replica); -1: all
    bool relays = false;
};

class RedisCluster : public System {
public:
    RedisCluster(const Launch& bins, RedisOptions options);
    ~RedisCluster() override;

    std::string name() const override { return "redis"; }
    std::uint16_t writer_port() const override { return master_port_; }
    std::size_t replica_count() const override { return replicas_.size(); }
    std::uint16_t replica_port(std::size_t i) const override { return replicas_[i].port; }
    bool wait_replicated(int timeout_ms) override;
    Relay* relay(std::size_t i) override { return i < relays_.size() ? relays_[i].get() : nullptr; }
    std::pair<std::uint64_t, std::uint64_t> reported_stream_bytes() override { return {0, 0}; }

    // Starts replica i and waits until it answers PING (not until it has synced).
    void start_replica(std::size_t i);
    // Waits until every running replica reports master_link_status:up.
    void wait_linked(int timeout_ms);

private:
    struct Replica {
        std::uint16_t port = 0;
        std::string dir;
        std::unique_ptr<Child> child;
    };

    std::vector<std::string> server_args(std::uint16_t port, const std::string& dir) const;

    Launch bins_;
    RedisOptions options_;
    ScratchDir root_;
    std::uint16_t master_port_ = 0;
    std::unique_ptr<Child> master_;
    std::vector<std::unique_ptr<Relay>> relays_;
    std::vector<Replica> replicas_;
};

// From INFO memory. used_memory_dataset means different things: Meridian's is its keyspace
// (used_memory without the in-memory log tail), Redis's leaves out its dict's own structures.
struct MemoryInfo {
    std::uint64_t used = 0;
    std::uint64_t dataset = 0;
    std::uint64_t rss = 0;
};
MemoryInfo memory_of(std::uint16_t port);

}  // namespace meridian::bench
