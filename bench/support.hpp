// meridian-bench plumbing: child processes, loopback ports, scratch directories and a small
// blocking Redis client over hiredis. Benchmark code only; nothing here is thread-safe except
// that each thread may own its own Client. A failure that makes a figure meaningless throws
// BenchError, which the command line reports (the bench is a program, not a library).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct redisContext;
struct redisReply;

namespace meridian::bench {

struct BenchError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using Clock = std::chrono::steady_clock;

// A loopback port that was free a moment ago; never the same one twice in this process.
std::uint16_t free_port();

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class ScratchDir {
public:
    ScratchDir();
    ~ScratchDir();
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A child process, SIGKILLed and reaped on destruction (and killed if the bench dies first).
class Child {
public:
    // stdout and stderr go to `log_path`. Throws BenchError if it cannot be started.
    Child(const std::string& program, const std::vector<std::string>& args,
          const std::string& log_path);
    ~Child();
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    void kill();
    const std::string& log_path() const { return log_path_; }
    std::string log_tail(std::size_t max_bytes = 2000) const;

private:
    pid_t pid_ = -1;
    std::string log_path_;
};

// One reply, flattened to what the bench needs: strings (bulk, status, error text), integers,
// arrays. `error` is set for -ERR replies and for I/O failures.
struct Reply {
    enum class Kind { string, integer, nil, array, error };
    Kind kind = Kind::nil;
    std::string str;
    long long integer = 0;
    std::vector<Reply> elements;

    bool is_error() const { return kind == Kind::error; }
};

// A blocking connection to one RESP server (Meridian or Redis).
class Client {
public:
    // Throws BenchError when it cannot connect within timeout_ms.
    explicit Client(std::uint16_t port, int timeout_ms = 10000);
    ~Client();
    Client(Client&& other) noexcept;
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    Reply command(const std::vector<std::string>& argv);
    // Queues a command without waiting; read its reply later with read_reply().
    void append(const std::vector<std::string>& argv);
    Reply read_reply();
    // INFO <section> as name -> value ("region_eu-west" -> "state=connected,...").
    std::map<std::string, std::string> info(const std::string& section);

private:
    redisContext* context_ = nullptr;
};

// Tries to connect every 20 ms until the server answers PING or the time is up.
bool wait_for_ping(std::uint16_t port, int timeout_ms);
// Polls predicate every `every_ms` until it holds (true) or timeout_ms passes (false).
bool wait_until(const std::function<bool()>& predicate, int timeout_ms, int every_ms = 5);

// "a=1,b=2" -> {a: 1, b: 2} (values as text).
std::map<std::string, std::string> split_fields(const std::string& text);
std::uint64_t to_u64(const std::string& text);

// The directory holding this executable (where meridian-node and friends are built).
std::string own_directory();
bool is_executable(const std::string& path);
std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& text);

}  // namespace meridian::bench
