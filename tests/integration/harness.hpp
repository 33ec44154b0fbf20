// The integration-test harness: real meridian-node processes on loopback, fault proxies between
// regions, and a small synchronous Redis client. Test code only, used from the test's thread
// (nothing here is thread-safe); a misuse or a node that will not start fails the test (FAIL).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "crdt/expected.hpp"

struct redisContext;

namespace meridian::test {

// A loopback TCP port that was free a moment ago (bind port 0, read it, close). Never returns
// the same port twice in one process; another process may still take it first.
std::uint16_t free_port();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction unless
// the environment sets MERIDIAN_KEEP_TEST_DATA (then its path is printed to stderr instead).
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(TempDir&& other) noexcept;
    TempDir& operator=(TempDir&& other) noexcept;
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// One RESP reply, or the I/O error that prevented it. Status replies (+OK) read as strings.
class Reply {
public:
    struct Nil {
        friend bool operator==(const Nil&, const Nil&) = default;
    };
    struct Error {  // -ERR ...: the server answered with an error
        std::string message;
        friend bool operator==(const Error&, const Error&) = default;
    };
    struct IoError {  // no answer: connection lost, timeout, protocol error
        std::string message;
        friend bool operator==(const IoError&, const IoError&) = default;
    };
    using Array = std::vector<Reply>;
    using Value = std::variant<std::string, long long, Nil, Error, Array, IoError>;

    Reply() : value_(Nil{}) {}
    explicit Reply(Value value) : value_(std::move(value)) {}

    static Reply string(std::string s) { return Reply(Value(std::move(s))); }
    static Reply integer(long long n) { return Reply(Value(n)); }
    static Reply nil() { return Reply(Value(Nil{})); }
    static Reply error(std::string message) { return Reply(Value(Error{std::move(message)})); }
    static Reply array(Array elements) { return Reply(Value(std::move(elements))); }
    static Reply io_error(std::string message) { return Reply(Value(IoError{std::move(message)})); }

    bool is_string() const { return std::holds_alternative<std::string>(value_); }
    bool is_integer() const { return std::holds_alternative<long long>(value_); }
    bool is_nil() const { return std::holds_alternative<Nil>(value_); }
    bool is_error() const { return std::holds_alternative<Error>(value_); }
    bool is_array() const { return std::holds_alternative<Array>(value_); }
    bool is_io_error() const { return std::holds_alternative<IoError>(value_); }

    // The payload if the reply is of that kind, else an empty/zero value: tests assert the
    // kind (or compare whole replies) so that a wrong kind prints the reply.
    // A temporary reply hands its payload over by value, so that
    // `for (auto& m : c.command(...).as_array())` does not iterate a dead reply.
    const std::string& as_string() const&;
    std::string as_string() &&;
    long long as_integer() const;
    const Array& as_array() const&;
    Array as_array() &&;
    // The message of an Error or IoError reply, else "".
    const std::string& error_message() const;

    const Value& value() const { return value_; }
    // redis-cli style: "text", (integer) 3, (nil), (error) ERR ..., (io error) ..., [a, b].
    std::string describe() const;

    friend bool operator==(const Reply&, const Reply&) = default;

private:
    Value value_;
};

std::ostream& operator<<(std::ostream& out, const Reply& reply);

// A thin wrapper over hiredis 0.14's synchronous API: one connection, blocking calls with a
// timeout. After an I/O error the connection is dead and every later command answers IoError.
class RedisClient {
public:
    // timeout_ms bounds the connect and then every command's send and receive.
    static Expected<RedisClient, std::string> connect(std::uint16_t port, int timeout_ms = 2000);
    // A client that never connected: every command answers IoError(reason).
    static RedisClient failed(std::string reason);

    RedisClient(RedisClient&&) noexcept;
    RedisClient& operator=(RedisClient&&) noexcept;
    ~RedisClient();

    // Runs a command given as argv (binary safe).
    Reply command(std::vector<std::string> argv);
    // Sends every command, then reads their replies in order.
    std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);
    void set_timeout(int timeout_ms);
    // False once an I/O error killed the connection (or it never connected).
    bool connected() const;

private:
    struct ContextDeleter {
        void operator()(redisContext* context) const;
    };

    RedisClient(std::unique_ptr<redisContext, ContextDeleter> context, std::string error);

    std::unique_ptr<redisContext, ContextDeleter> context_;
    std::string dead_reason_;  // why commands cannot run, when not connected
};

// A child process owned by the test: SIGKILLed and reaped on destruction, and (Linux
// PR_SET_PDEATHSIG) killed if the test process dies first, so none is ever left behind.
class Process {
public:
    // Starts `program` (a path, or a name looked up on PATH) with `args`, stdin from /dev/null,
    // stdout and stderr appended to `output_path`. An exec failure is reported here.
    static Expected<Process, std::string> spawn(const std::string& program,
                                                const std::vector<std::string>& args,
                                                const std::string& output_path);
    // Takes ownership of the child `pid` (a child of this process).
    explicit Process(pid_t pid) : pid_(pid) {}
    Process(Process&& other) noexcept;
    Process& operator=(Process&& other) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;
    ~Process();

    pid_t pid() const { return pid_; }
    // Reaps the child if it has exited; a stopped (SIGSTOP) child is still running.
    bool running();
    // The exit code, or 128 + signal number when a signal ended it; empty while it runs.
    std::optional<int> exit_status() const { return status_; }
    void signal(int signal_number);
    // Waits up to timeout_ms for it to exit; its status, or empty if it is still running.
    std::optional<int> wait(int timeout_ms);
    // SIGKILL, then reap; the exit status.
    int kill();

private:
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// A running meridian-fault-proxy (tests/tools/README.md) forwarding to 127.0.0.1:target_port.
class FaultProxy {
public:
    // Starts it with ports chosen by the kernel and reads them from its first line of output;
    // its stderr goes to `log_path`.
    static Expected<FaultProxy, std::string> start(std::uint16_t target_port,
                                                   const std::string& log_path);

    std::uint16_t port() const { return port_; }
    std::uint16_t control_port() const { return control_port_; }
    // Sends one control command ("blackhole both", "delay 50 10", "status", ...) and returns
    // the answer line ("OK ..." / "ERR ..."); "ERR harness: ..." when the proxy does not answer.
    std::string command(const std::string& line);
    bool running() { return process_.running(); }
    Process& process() { return process_; }

private:
    FaultProxy(Process process, std::uint16_t port, std::uint16_t control_port)
        : process_(std::move(process)), port_(port), control_port_(control_port) {}

    Process process_;
    std::uint16_t port_;
    std::uint16_t control_port_;
};

struct RegionSpec {
    std::string name;
    std::uint16_t id = 0;
    std::uint16_t client_port = 0, peer_port = 0, admin_port = 0;
    std::string data_dir;
};

// $MERIDIAN_NODE_BIN if set, else MERIDIAN_BIN_DIR "/meridian-node".
std::string node_binary();
// MERIDIAN_BIN_DIR "/meridian-fault-proxy".
std::string proxy_binary();
bool is_executable(const std::string& path);

// A cluster of regions on loopback under one TempDir. Region i of `region_names` gets id i + 1,
// free ports, data_dir <root>/<name> and a cluster file <root>/<name>.toml. With proxies, each
// pair of regions gets a fault proxy placed on the dialing side: in the lower id's file the
// higher id's peer_listen is the proxy, which forwards to the real port (so the harness assumes
// the lower id dials; every other view of a peer_listen is the real port).
class Cluster {
public:
    // `extra_toml` (policies, fsync, tunables...) goes after the cluster's own top-level keys and
    // before the [[regions]] tables, so its top-level keys stay top-level. The harness writes
    // cluster = "meridian-test" and secret = "meridian-test-secret" unless extra_toml sets
    // cluster, or secret / secret_file, itself.
    Cluster(std::vector<std::string> region_names, std::string extra_toml,
            bool with_proxies = false);
    ~Cluster();  // SIGKILLs every node and proxy it started
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    // Starts the node (stdout+stderr appended to log_path) and waits until it answers PING,
    // at most 10 s; FAILs the test with the log's tail otherwise.
    void start(const std::string& region, std::vector<std::string> extra_args = {});
    // The same, reporting the failure as a value (the node is killed in that case).
    Expected<void, std::string> try_start(const std::string& region,
                                          std::vector<std::string> extra_args = {});
    // Launches every node not running, then waits for each.
    void start_all();
    void kill9(const std::string& region);  // no-op if it is not running
    // SIGTERM (and SIGCONT, in case it is paused), waits up to 15 s for the exit, then
    // SIGKILLs it; returns the exit status (128 + signal when a signal ended it).
    int terminate(const std::string& region);
    void pause(const std::string& region);   // SIGSTOP
    void resume(const std::string& region);  // SIGCONT
    // Cuts the replication link between two running regions from both sides (MERIDIAN PAUSE),
    // and restores it (MERIDIAN RESUME); REQUIREs that both answer OK.
    void partition(const std::string& a, const std::string& b);
    void heal(const std::string& a, const std::string& b);
    bool running(const std::string& region) const;

    // A fresh connection to the region's client port; a failed() client if it cannot connect.
    RedisClient client(const std::string& region, int timeout_ms = 2000);
    std::uint16_t client_port(const std::string& region) const;
    std::string data_dir(const std::string& region) const;
    std::string log_path(const std::string& region) const;
    std::string config_path(const std::string& region) const;
    const RegionSpec& spec(const std::string& region) const;
    std::vector<std::string> region_names() const;
    const std::string& root() const { return root_.path(); }
    // The last `max_bytes` of the node's log, for failure messages.
    std::string log_tail(const std::string& region, std::size_t max_bytes = 4000) const;

    // Sends a control command to the proxy between regions a and b (either order), e.g.
    // "blackhole both"; returns its answer. FAILs if the cluster has no proxies.
    std::string proxy(const std::string& a, const std::string& b, const std::string& command);

private:
    struct Region {
        RegionSpec spec;
        std::string config_path;
        std::string log_path;
        mutable std::optional<Process> process;  // running() reaps, hence mutable
    };

    Region& region(const std::string& name);
    const Region& region(const std::string& name) const;
    std::string config_text(const Region& self) const;
    Expected<void, std::string> launch(Region& r, const std::vector<std::string>& extra_args);
    Expected<void, std::string> await_ready(Region& r);

    TempDir root_;  // declared first: removed after every process is gone
    std::string extra_toml_;
    std::vector<Region> regions_;
    std::map<std::pair<std::uint16_t, std::uint16_t>, FaultProxy> proxies_;  // (lower, higher id)
};

// A redis-server (from PATH) on 127.0.0.1:port that persists nothing, its log in
// `dir`/redis.log, once it answers PING (at most 10 s); the error, with the log, otherwise.
Expected<Process, std::string> start_redis_server(std::uint16_t port, const std::string& dir);

// A field of the region's `INFO all` ("name:value" at a line's start): its value, or nullopt
// when absent; info_number() reads it as a number, -1 when absent.
std::optional<std::string> info_value(RedisClient& client, const std::string& field);
long long info_number(RedisClient& client, const std::string& field);

// Polls `predicate` every few ms until it holds (true) or `timeout_ms` passes (false).
bool eventually(std::function<bool()> predicate, int timeout_ms);

// Whether `region` replicates with `peers` regions now (INFO connected_regions).
bool connected(Cluster& cluster, const std::string& region, int peers);
// Starts every region of `cluster` and REQUIREs that each links to all the others in 15 s.
void start_connected(Cluster& cluster);

// Runs a program to completion: {exit status (128 + signal if killed by one), stdout and stderr
// interleaved}. After timeout_ms it is killed and the status is -1; -1 too if it cannot start.
std::pair<int, std::string> run_program(const std::string& program,
                                        const std::vector<std::string>& args,
                                        int timeout_ms = 10000);
// run_program(node_binary(), args, timeout_ms): for configuration errors and the like.
std::pair<int, std::string> run_node(std::vector<std::string> args, int timeout_ms = 10000);

}  // namespace meridian::test
