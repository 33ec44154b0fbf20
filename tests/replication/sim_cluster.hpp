// A deterministic simulation of a Meridian cluster: N nodes, each a
// ReplicationCore over a SimStore, connected by a simulated network whose
// links deliver frames in order after a random latency. A seed drives
// everything: client writes of every type at every node, partitions that
// reset or silently blackhole links, duplicated data frames, and crashes that
// lose what was not yet fsynced (under fsync = no). The run records every
// client operation, so the checker can compare the converged state with a
// model of what the acknowledged operations imply.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crdt/bounded_counter.hpp"
#include "replication/core.hpp"
#include "sim_store.hpp"

namespace meridian::sim {

struct SimOptions {
    std::uint64_t seed = 1;
    int nodes = 3;
    bool fsync_always = false;      // else fsync = no: crashes lose the unsynced tail
    std::uint64_t write_ms = 1500;  // how long clients write (faults happen meanwhile)
    std::uint64_t heal_ms = 20000;  // the most time allowed to converge afterwards
    double op_rate = 0.2;           // client operations per node per millisecond step
    bool crashes = true;
    bool partitions = true;
    bool duplicates = true;
    std::uint64_t retention_records = 0;  // 0 = keep the whole log
    bool withdrawals =
        false;  // mostly bounded-counter withdrawals and transfers (a balance under load)
};

// One client operation and what became of it.
struct Op {
    enum class Kind {
        counter_add,
        set_add,
        set_remove,
        reg_write,
        reg_delete,
        reg_expire,  // a TTL write on a register key: a deadline, or PERSIST (none)
        bc_increment,
        bc_decrement,
        bc_transfer,
        hash_set,   // HSET of `element` (a field) to the number `amount`
        hash_incr,  // HINCRBY of `element` by `amount`
    };
    Kind kind;
    int node = 0;
    std::string key;
    std::int64_t amount = 0;
    std::string element;    // set element or register value
    bool observed = false;  // set_remove: the element was a member where it ran
    crdt::Dot dot;          // the write's dot (replica, seq)
    crdt::Hlc stamp;        // register and TTL writes
    std::optional<std::uint64_t> deadline;  // reg_expire
    // hash_set: the field's counter entries its region held, which it resets. Not the region's
    // version vector: a full-state sync delivers states newer than the vector it ends with.
    std::vector<crdt::PnCounter::Entry> observed_counts;
    // hash_incr: the writer's running total of increments (or of decrements) after this one,
    // so an HSET observed it exactly when its entry for the writer had reached that total.
    std::uint64_t running_total = 0;
    bool acknowledged = false;
};

struct SimResult {
    bool converged = false;
    std::string failure;  // empty when every check passed
    std::uint64_t ops = 0, acknowledged = 0, crashes = 0, partitions = 0, full_syncs = 0;
};

class SimCluster {
public:
    explicit SimCluster(SimOptions options);
    ~SimCluster();
    SimResult run();

private:
    struct Node;
    struct Link;
    struct Event {
        std::uint64_t time = 0;
        std::uint64_t seq = 0;  // ties broken by scheduling order: deterministic
        enum class Kind { deliver, drained } kind = Kind::deliver;
        replication::LinkId link = 0;
        int node = 0;  // the receiver (deliver) or the sender (drained)
        replication::FrameType type = replication::FrameType::ping;
        std::string payload;
        bool operator>(const Event& o) const {
            return time != o.time ? time > o.time : seq > o.seq;
        }
    };

    // network
    void dial_all();
    void connect(int a, int b);
    void disconnect(std::uint64_t link_id, bool notify_a, bool notify_b);
    void push_event(Event event);
    void handle(Event& event);
    void drive(int node);  // executes the node's queued actions
    bool blocked(int a, int b) const;

    // faults and workload
    void client_op(int node);
    void crash(int node);
    void restart(int node);
    void start_partition();
    void heal_partitions();
    void check_floors(int node, const char* when);

    std::string check_final();
    crdt::ReplicaId current_replica(int node) const;
    std::uint64_t physical_ms(int node) const;

    SimOptions options_;
    std::mt19937_64 rng_;
    std::uint64_t now_ = 0;
    std::vector<std::unique_ptr<Node>> nodes_;
    std::map<std::uint64_t, std::unique_ptr<Link>> links_;
    std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
    std::uint64_t next_event_ = 0;
    std::uint64_t next_link_ = 1;
    std::set<std::pair<int, int>> cut_;        // partitioned pairs (a < b): links reset
    std::set<std::pair<int, int>> blackhole_;  // partitioned pairs: frames held back
    // Frames sent into a blackhole: TCP delivers them after the heal, in
    // order, unless the connection dies first (then they are gone with it).
    std::map<std::uint64_t, std::vector<Event>> held_;
    std::vector<Op> ops_;
    std::uint64_t next_element_ = 1;
    std::string failure_;
    SimResult result_;
};

}  // namespace meridian::sim
