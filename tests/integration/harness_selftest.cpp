// Tests of the harness itself, none needing meridian-node: ports, temporary directories,
// processes, the fault proxy against an in-process TCP server, the Redis client against
// redis-server (skipped with a warning when it is not installed), and a Cluster whose "node"
// is a shell script serving the region's client port with redis-server.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"
#include "node/cluster_config.hpp"
#include "tests/tools/loopback_port.hpp"

namespace {

namespace fs = std::filesystem;
using namespace meridian::test;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::uint64_t fnv1a(std::uint64_t hash, const char* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        hash ^= static_cast<unsigned char>(data[i]);
        hash *= 1099511628211ull;
    }
    return hash;
}
constexpr std::uint64_t fnv_offset = 14695981039346656037ull;

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    return addr;
}

// A TCP server on its own threads that echoes what it reads, or only counts and hashes it.
class TestServer {
public:
    enum class Mode { echo, sink };

    explicit TestServer(Mode mode, std::uint16_t port = 0) : mode_(mode) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listen_fd_ >= 0);
        int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr = loopback(port);
        REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(listen_fd_, 64) == 0);
        socklen_t len = sizeof addr;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        accept_thread_ = std::thread([this] { accept_loop(); });
    }

    ~TestServer() {
        stop_ = true;
        accept_thread_.join();  // after this no connection thread is added
        for (auto& t : connection_threads_) t.join();
        ::close(listen_fd_);
    }

    std::uint16_t port() const { return port_; }
    std::uint64_t bytes_received() const { return bytes_received_; }
    int connections() const { return connections_; }
    std::uint64_t hash() const {
        std::lock_guard lock(mutex_);
        return hash_;
    }

private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            ++connections_;
            connection_threads_.emplace_back([this, fd] { serve(fd); });
        }
    }

    void serve(int fd) {
        char buffer[65536];
        while (!stop_) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            bytes_received_ += static_cast<std::uint64_t>(n);
            if (mode_ == Mode::sink) {
                std::lock_guard lock(mutex_);
                hash_ = fnv1a(hash_, buffer, static_cast<std::size_t>(n));
                continue;
            }
            ssize_t sent = 0;
            while (sent < n) {
                const ssize_t m =
                    ::send(fd, buffer + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
                if (m <= 0) break;
                sent += m;
            }
        }
        ::close(fd);
    }

    Mode mode_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> bytes_received_{0};
    std::atomic<int> connections_{0};
    mutable std::mutex mutex_;
    std::uint64_t hash_ = fnv_offset;
    std::thread accept_thread_;
    std::vector<std::thread> connection_threads_;  // touched by the accept thread only, until
                                                   // the destructor has joined it
};

// A blocking client socket with timeouts expressed per call.
class Socket {
public:
    explicit Socket(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr = loopback(port);
        INFO("connect to port " << port << ": " << std::strerror(errno));
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    }
    ~Socket() { ::close(fd_); }
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    int fd() const { return fd_; }

    void send_all(const std::string& data) {
        std::size_t sent = 0;
        while (sent < data.size()) {
            const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
            REQUIRE(n > 0);
            sent += static_cast<std::size_t>(n);
        }
    }

    // Reads until `n` bytes arrived or `timeout_ms` passed; returns what arrived.
    std::string receive(std::size_t n, int timeout_ms) {
        std::string data;
        const auto deadline = Clock::now() + milliseconds(timeout_ms);
        while (data.size() < n) {
            const auto left =
                std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left)) <= 0) break;
            char buffer[65536];
            const ssize_t got = ::recv(fd_, buffer, std::min(sizeof buffer, n - data.size()), 0);
            if (got <= 0) break;
            data.append(buffer, static_cast<std::size_t>(got));
        }
        return data;
    }

    // Whether the peer closed (EOF or reset) within `timeout_ms`.
    bool closed_within(int timeout_ms) {
        const auto deadline = Clock::now() + milliseconds(timeout_ms);
        while (Clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            char c;
            const ssize_t n = ::recv(fd_, &c, 1, 0);
            if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
        }
        return false;
    }

private:
    int fd_ = -1;
};

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

long long elapsed_ms(Clock::time_point since) {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - since).count();
}

FaultProxy start_proxy(std::uint16_t target_port, const TempDir& dir) {
    auto proxy = FaultProxy::start(target_port, dir.path() + "/proxy.log");
    INFO(proxy_binary());
    REQUIRE(proxy.has_value());
    return std::move(*proxy);
}

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

// The value of `key=` in a proxy status line, or -1.
long long status_field(const std::string& status, const std::string& key) {
    const auto at = status.find(" " + key + "=");
    if (at == std::string::npos) return -1;
    return std::atoll(status.c_str() + at + key.size() + 2);
}

std::optional<std::string> find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const auto end = std::min(dirs.find(':', start), dirs.size());
        const std::string candidate = dirs.substr(start, end - start) + "/" + name;
        if (end > start && is_executable(candidate)) return candidate;
        start = end + 1;
    }
    return std::nullopt;
}

// redis-server on a free port, or nothing (with a warning) when it is not installed.
struct RedisServer {
    TempDir dir;
    std::uint16_t port = free_port();
    std::optional<Process> process;

    bool start() {
        if (!find_on_path("redis-server")) {
            WARN("redis-server is not on PATH: skipping");
            return false;
        }
        auto p = start_redis_server(port, dir.path());
        INFO((p ? std::string() : p.error()));
        REQUIRE(p.has_value());
        process.emplace(std::move(*p));
        return true;
    }
};

RedisClient connect(std::uint16_t port) {
    auto client = RedisClient::connect(port);
    INFO((client ? std::string() : client.error()));
    REQUIRE(client.has_value());
    return std::move(*client);
}

class ScopedEnv {
public:
    ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
        if (const char* old = std::getenv(name_.c_str())) old_ = old;
        ::setenv(name_.c_str(), value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_.c_str(), old_->c_str(), 1);
        } else {
            ::unsetenv(name_.c_str());
        }
    }

private:
    std::string name_;
    std::optional<std::string> old_;
};

// A stand-in for meridian-node: finds its region's client port in the cluster file the harness
// wrote and serves it with redis-server; `--exit` makes it fail at start like a bad config.
const char* fake_node_script = R"sh(#!/bin/sh
config=""; region=""
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config=$2; shift 2 ;;
        --region) region=$2; shift 2 ;;
        --exit) echo "fake node: told to exit"; exit 7 ;;
        *) shift ;;
    esac
done
port=$(awk -v want="\"$region\"" '$1 == "name" { name = $3 }
    $1 == "client_listen" && name == want { split($3, a, ":"); gsub(/"/, "", a[2]); print a[2] }' "$config")
echo "fake node $region on port $port"
exec redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$(dirname "$config")"
)sh";

std::string write_fake_node(const TempDir& dir) {
    const std::string path = dir.path() + "/fake-node.sh";
    std::ofstream(path) << fake_node_script;
    fs::permissions(path, fs::perms::owner_all);
    return path;
}

}  // namespace

// ---- ports, directories, processes -------------------------------------------------------

TEST_CASE("free_port hands out distinct loopback ports that can be bound") {
    std::vector<std::uint16_t> ports;
    for (int i = 0; i < 20; ++i) ports.push_back(free_port());
    for (std::size_t i = 0; i < ports.size(); ++i) {
        INFO("port " << ports[i]);
        CHECK(ports[i] != 0);
        for (std::size_t j = 0; j < i; ++j) CHECK(ports[i] != ports[j]);
        TestServer server(TestServer::Mode::echo, ports[i]);
        CHECK(server.port() == ports[i]);
    }
}

TEST_CASE("free_port leases ports the kernel never picks on its own, locked against other processes") {
    const auto range = meridian::testing::leasable_ports();
    unsigned low = 0, high = 0;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
    REQUIRE(high >= low);
    const std::uint16_t port = free_port();
    CHECK(port >= range.first);
    CHECK(port <= range.last);
    CHECK((port < low || port > high));
    // Another process (here: another open file description) cannot take the lease.
    const int fd = ::open(meridian::testing::port_lock_path(port).c_str(), O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(::flock(fd, LOCK_EX | LOCK_NB) != 0);
    ::close(fd);
}

TEST_CASE("a temporary directory and its contents are removed when it goes out of scope") {
    if (std::getenv("MERIDIAN_KEEP_TEST_DATA")) {
        WARN("MERIDIAN_KEEP_TEST_DATA is set: temporary directories are kept, nothing to check");
        return;
    }
    std::string path;
    {
        TempDir dir;
        path = dir.path();
        REQUIRE(fs::is_directory(path));
        fs::create_directories(path + "/a/b");
        std::ofstream(path + "/a/b/file") << "data";
        TempDir moved(std::move(dir));
        CHECK(moved.path() == path);
        CHECK(dir.path().empty());
    }
    CHECK_FALSE(fs::exists(path));
}

TEST_CASE("a process reports its exit status, and one still running is killed with its owner") {
    TempDir dir;
    const std::string log = dir.path() + "/out.log";
    auto exits =
        Process::spawn("/bin/sh", {"-c", "echo to-stdout; echo to-stderr >&2; exit 3"}, log);
    REQUIRE(exits.has_value());
    CHECK(exits->wait(5000) == std::optional<int>(3));
    CHECK_FALSE(exits->running());
    const std::string text = read_file(log);
    CHECK(text.find("to-stdout") != std::string::npos);
    CHECK(text.find("to-stderr") != std::string::npos);

    pid_t pid = 0;
    {
        auto sleeper = Process::spawn("sleep", {"30"}, log);
        REQUIRE(sleeper.has_value());
        pid = sleeper->pid();
        CHECK(sleeper->running());
        sleeper->signal(SIGSTOP);
        CHECK(sleeper->running());
    }
    CHECK(::kill(pid, 0) == -1);  // killed and reaped: the pid is gone

    auto missing = Process::spawn("/nonexistent/meridian-nothing", {}, log);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().find("/nonexistent/meridian-nothing") != std::string::npos);
}

TEST_CASE("run_program returns the exit status and the combined output, and kills an overstayer") {
    auto [status, output] = run_program("/bin/sh", {"-c", "echo out; echo err >&2; exit 4"}, 5000);
    CHECK(status == 4);
    CHECK(output == "out\nerr\n");

    const auto start = Clock::now();
    auto [slow_status, slow_output] = run_program("sleep", {"30"}, 300);
    CHECK(slow_status == -1);
    CHECK(slow_output.find("killed after 300 ms") != std::string::npos);
    CHECK(elapsed_ms(start) < 5000);

    auto [missing_status, missing_output] = run_program("/nonexistent/meridian-nothing", {});
    CHECK(missing_status == -1);
    CHECK(missing_output.find("cannot run") != std::string::npos);
}

// ---- the fault proxy ---------------------------------------------------------------------

TEST_CASE("the fault proxy reports its ports and forwards bytes both ways") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    CHECK(proxy.port() != 0);
    CHECK(proxy.control_port() != 0);
    CHECK(proxy.port() != echo.port());

    Socket client(proxy.port());
    const std::string message = "hello through the proxy\r\n\0binary\xff";
    client.send_all(message);
    CHECK(client.receive(message.size(), 2000) == message);
    CHECK(echo.bytes_received() == message.size());
}

TEST_CASE("the proxy's status counts open connections and the bytes delivered each way") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    const std::string idle = proxy.command("status");
    INFO(idle);
    CHECK(starts_with(idle, "OK "));
    CHECK(status_field(idle, "connections") == 0);
    CHECK(idle.find("mode=pass") != std::string::npos);
    {
        Socket a(proxy.port());
        Socket b(proxy.port());
        a.send_all("12345");
        CHECK(a.receive(5, 2000) == "12345");
        b.send_all("678");
        CHECK(b.receive(3, 2000) == "678");
        const std::string busy = proxy.command("status");
        INFO(busy);
        CHECK(status_field(busy, "connections") == 2);
        CHECK(status_field(busy, "bytes_forward") == 8);
        CHECK(status_field(busy, "bytes_backward") == 8);
    }
    std::string last;
    CHECK(eventually(
        [&] {
            last = proxy.command("status");
            return status_field(last, "connections") == 0;
        },
        3000));
    INFO(last);
}

TEST_CASE("delay adds latency in each direction, and jitter keeps the order of the bytes") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    Socket client(proxy.port());
    client.send_all("x");
    REQUIRE(client.receive(1, 2000) == "x");  // connected end to end before timing

    REQUIRE(proxy.command("delay 150") == "OK delay_ms=150 jitter_ms=0");
    auto start = Clock::now();
    client.send_all("y");
    CHECK(client.receive(1, 3000) == "y");
    const auto delayed = elapsed_ms(start);
    CHECK(delayed >= 290);  // 150 ms out, 150 ms back
    CHECK(delayed < 2000);

    REQUIRE(proxy.command("delay 0") == "OK delay_ms=0 jitter_ms=0");
    start = Clock::now();
    client.send_all("z");
    CHECK(client.receive(1, 2000) == "z");
    CHECK(elapsed_ms(start) < 250);  // well under the 300 ms above, with room for a busy machine

    REQUIRE(proxy.command("delay 2 40") == "OK delay_ms=2 jitter_ms=40");
    std::string sent;
    for (int i = 0; i < 100; ++i) {
        const std::string piece = "message-" + std::to_string(i) + ";";
        client.send_all(piece);
        sent += piece;
        if (i % 10 == 0) std::this_thread::sleep_for(milliseconds(3));
    }
    CHECK(client.receive(sent.size(), 10000) == sent);
}

TEST_CASE("a forward blackhole holds the client's bytes until it is lifted, then delivers them") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    Socket client(proxy.port());
    client.send_all("a");
    REQUIRE(client.receive(1, 2000) == "a");

    REQUIRE(proxy.command("blackhole forward") == "OK mode=blackhole-forward");
    client.send_all("held");
    CHECK(client.receive(4, 400).empty());
    CHECK(echo.bytes_received() == 1);
    CHECK(status_field(proxy.command("status"), "bytes_forward") == 1);

    REQUIRE(proxy.command("blackhole off") == "OK mode=pass");
    CHECK(client.receive(4, 3000) == "held");
    CHECK(echo.bytes_received() == 5);
}

TEST_CASE("a backward blackhole holds the replies while the target still gets the requests") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    REQUIRE(proxy.command("blackhole backward") == "OK mode=blackhole-backward");
    Socket client(proxy.port());  // new connections inherit the blackhole
    client.send_all("one-way");
    CHECK(eventually([&] { return echo.bytes_received() == 7; }, 3000));
    CHECK(client.receive(7, 400).empty());

    REQUIRE(proxy.command("blackhole off") == "OK mode=pass");
    CHECK(client.receive(7, 3000) == "one-way");
}

TEST_CASE(
    "a blackhole fills the sender's window instead of dropping bytes, and off delivers "
    "every byte in order") {
    TempDir dir;
    TestServer sink(TestServer::Mode::sink);
    FaultProxy proxy = start_proxy(sink.port(), dir);
    REQUIRE(proxy.command("blackhole both") == "OK mode=blackhole-both");
    Socket client(proxy.port());
    ::fcntl(client.fd(), F_SETFL, ::fcntl(client.fd(), F_GETFL) | O_NONBLOCK);

    constexpr std::size_t total = 48u << 20;
    const unsigned seed = std::random_device{}();
    INFO("seed " << seed);
    std::mt19937 random(seed);
    std::string data(total, '\0');
    for (auto& c : data) c = static_cast<char>(random());

    // Write until the kernel says the window is full (EAGAIN), and check it stays full.
    std::size_t sent = 0;
    bool blocked = false;
    for (int stalls = 0; sent < total && stalls < 20;) {
        const ssize_t n = ::send(client.fd(), data.data() + sent, total - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            stalls = 0;
        } else {
            REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
            blocked = true;
            ++stalls;
            std::this_thread::sleep_for(milliseconds(10));
        }
    }
    INFO("sent " << sent << " of " << total << " bytes before the window filled");
    CHECK(blocked);
    CHECK(sent < total);
    CHECK(sink.bytes_received() == 0);

    REQUIRE(proxy.command("blackhole off") == "OK mode=pass");
    while (sent < total) {
        pollfd p{client.fd(), POLLOUT, 0};
        REQUIRE(::poll(&p, 1, 5000) == 1);
        const ssize_t n = ::send(client.fd(), data.data() + sent, total - sent, MSG_NOSIGNAL);
        if (n > 0) sent += static_cast<std::size_t>(n);
    }
    CHECK(eventually([&] { return sink.bytes_received() == total; }, 20000));
    CHECK(sink.hash() == fnv1a(fnv_offset, data.data(), data.size()));
}

TEST_CASE("reset closes every current connection, and new connections still work") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    Socket a(proxy.port());
    Socket b(proxy.port());
    a.send_all("a");
    b.send_all("b");
    REQUIRE(a.receive(1, 2000) == "a");
    REQUIRE(b.receive(1, 2000) == "b");

    CHECK(proxy.command("reset") == "OK reset=2");
    CHECK(a.closed_within(2000));
    CHECK(b.closed_within(2000));
    CHECK(status_field(proxy.command("status"), "connections") == 0);

    Socket c(proxy.port());
    c.send_all("after");
    CHECK(c.receive(5, 2000) == "after");
}

TEST_CASE("refuse closes new connections at once and spares open ones, and off accepts again") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    Socket open(proxy.port());
    open.send_all("1");
    REQUIRE(open.receive(1, 2000) == "1");

    REQUIRE(proxy.command("refuse on") == "OK refuse=on");
    {
        Socket refused(proxy.port());
        CHECK(refused.closed_within(2000));
    }
    open.send_all("2");
    CHECK(open.receive(1, 2000) == "2");
    CHECK(echo.connections() == 1);

    REQUIRE(proxy.command("refuse off") == "OK refuse=off");
    Socket again(proxy.port());
    again.send_all("3");
    CHECK(again.receive(1, 2000) == "3");
}

TEST_CASE("the proxy answers malformed control commands with ERR and keeps serving") {
    TempDir dir;
    TestServer echo(TestServer::Mode::echo);
    FaultProxy proxy = start_proxy(echo.port(), dir);
    const std::vector<std::string> bad = {
        "",
        "   ",
        "bogus",
        "delay",
        "delay -5",
        "delay 10 x",
        "delay 1 2 3",
        "delay 99999999999999999999999",
        "blackhole",
        "blackhole sideways",
        "refuse maybe",
        "status extra",
        "reset now",
        std::string("\x01\x02\xff\x00 status", 11),
        std::string(5000, 'x'),
    };
    for (const auto& line : bad) {
        INFO("command: " << line.substr(0, 40));
        CHECK(starts_with(proxy.command(line), "ERR "));
    }
    CHECK(starts_with(proxy.command("help"), "OK "));
    CHECK(starts_with(proxy.command("STATUS"), "OK connections=0"));
    Socket client(proxy.port());
    client.send_all("still forwarding");
    CHECK(client.receive(16, 2000) == "still forwarding");
    CHECK(proxy.running());
}

// ---- the Redis client ----------------------------------------------------------------------

TEST_CASE("the Redis client runs commands and reports every kind of reply") {
    RedisServer server;
    if (!server.start()) return;
    RedisClient client = connect(server.port);
    CHECK(client.connected());

    const std::string binary("v\0a\r\nl\xff", 7);
    CHECK(client.command({"SET", "key with spaces", binary}) == Reply::string("OK"));
    CHECK(client.command({"GET", "key with spaces"}) == Reply::string(binary));
    CHECK(client.command({"GET", "missing"}).is_nil());
    CHECK(client.command({"INCRBY", "n", "41"}) == Reply::integer(41));
    CHECK(client.command({"RPUSH", "list", "a", "b"}) == Reply::integer(2));
    CHECK(client.command({"LRANGE", "list", "0", "-1"}) ==
          Reply::array({Reply::string("a"), Reply::string("b")}));
    const Reply wrong = client.command({"INCR", "list"});
    CHECK(wrong.is_error());
    CHECK(starts_with(wrong.error_message(), "WRONGTYPE"));
    const Reply unknown = client.command({"NOSUCHCOMMAND"});
    CHECK(unknown.is_error());
    CHECK(client.connected());
    CHECK(Reply::array({Reply::integer(1), Reply::nil(), Reply::error("ERR x")}).describe() ==
          "[(integer) 1, (nil), (error) ERR x]");
}

TEST_CASE("a pipeline returns its replies in order") {
    RedisServer server;
    if (!server.start()) return;
    RedisClient client = connect(server.port);
    std::vector<std::vector<std::string>> commands;
    for (int i = 0; i < 200; ++i) commands.push_back({"INCR", "counter"});
    commands.push_back({"GET", "counter"});
    commands.push_back({"LPOP", "counter"});
    const auto replies = client.pipeline(commands);
    REQUIRE(replies.size() == commands.size());
    for (int i = 0; i < 200; ++i) CHECK(replies[i] == Reply::integer(i + 1));
    CHECK(replies[200] == Reply::string("200"));
    CHECK(replies[201].is_error());
}

TEST_CASE("a lost connection answers I/O errors, and a closed port fails to connect") {
    RedisServer server;
    if (!server.start()) return;
    RedisClient client = connect(server.port);
    REQUIRE(client.command({"PING"}) == Reply::string("PONG"));
    server.process->kill();
    const Reply lost = client.command({"PING"});
    CHECK(lost.is_io_error());
    CHECK_FALSE(client.connected());
    const auto later = client.pipeline({{"PING"}, {"PING"}});
    REQUIRE(later.size() == 2);
    CHECK(later[0].is_io_error());
    CHECK(later[1].is_io_error());

    auto refused = RedisClient::connect(server.port, 500);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().find(std::to_string(server.port)) != std::string::npos);
    CHECK(RedisClient::failed("why").command({"PING"}) == Reply::io_error("why"));
}

// ---- Cluster -------------------------------------------------------------------------------

TEST_CASE(
    "a cluster writes one valid cluster file per region, and the lower id reaches a "
    "higher id's peer port through that pair's proxy") {
    const std::string policies = R"(fsync = "always"

[[policy]]
match = "balance:*"
type = "counter"
)";
    Cluster cluster({"us-east", "eu-west", "ap-south"}, policies, true);
    const auto names = cluster.region_names();
    REQUIRE(names == std::vector<std::string>{"us-east", "eu-west", "ap-south"});

    for (const auto& name : names) {
        auto config = meridian::node::load_cluster_config(cluster.config_path(name));
        INFO(cluster.config_path(name) << ": " << (config ? std::string() : config.error()));
        REQUIRE(config.has_value());
        CHECK(config->cluster == "meridian-test");
        CHECK(config->fsync == meridian::node::FsyncMode::always);
        REQUIRE(config->regions.size() == 3);
        const RegionSpec& self = cluster.spec(name);
        for (const auto& r : config->regions) {
            const RegionSpec& spec = cluster.spec(r.name);
            CHECK(r.id == spec.id);
            CHECK(r.client_listen == "127.0.0.1:" + std::to_string(spec.client_port));
            CHECK(r.admin_listen == "127.0.0.1:" + std::to_string(spec.admin_port));
            CHECK(r.data_dir == spec.data_dir);
            const bool proxied = self.id < spec.id;
            CHECK((r.peer_listen == "127.0.0.1:" + std::to_string(spec.peer_port)) != proxied);
        }
        CHECK(fs::is_directory(cluster.data_dir(name)));
    }

    // us-east's view of eu-west's peer port is the proxy, which forwards to the real port.
    TestServer eu_peer(TestServer::Mode::echo, cluster.spec("eu-west").peer_port);
    auto us_view = meridian::node::load_cluster_config(cluster.config_path("us-east"));
    REQUIRE(us_view.has_value());
    const std::string via = us_view->find_region("eu-west")->peer_listen;
    Socket link(static_cast<std::uint16_t>(std::stoi(via.substr(via.rfind(':') + 1))));
    link.send_all("hello eu");
    CHECK(link.receive(8, 2000) == "hello eu");
    CHECK(cluster.proxy("eu-west", "us-east", "blackhole both") == "OK mode=blackhole-both");
    link.send_all("cut");
    CHECK(link.receive(3, 300).empty());
    CHECK(cluster.proxy("us-east", "eu-west", "blackhole off") == "OK mode=pass");
    CHECK(link.receive(3, 2000) == "cut");
    CHECK(starts_with(cluster.proxy("us-east", "ap-south", "status"), "OK connections=0"));
}

TEST_CASE("extra toml that names its own cluster and secret replaces the harness defaults") {
    Cluster cluster({"solo"}, "cluster = \"custom\"\nsecret = \"s3cret\"\n");
    auto config = meridian::node::load_cluster_config(cluster.config_path("solo"));
    INFO((config ? std::string() : config.error()));
    REQUIRE(config.has_value());
    CHECK(config->cluster == "custom");
    CHECK(config->secret == "s3cret");
}

TEST_CASE("a cluster starts, pauses, resumes, kills and terminates its nodes") {
    if (!find_on_path("redis-server")) {
        WARN("redis-server is not on PATH: skipping");
        return;
    }
    TempDir scripts;
    ScopedEnv node(std::string("MERIDIAN_NODE_BIN"), write_fake_node(scripts));
    Cluster cluster({"a", "b"}, "");
    CHECK_FALSE(cluster.running("a"));
    cluster.start_all();
    CHECK(cluster.running("a"));
    CHECK(cluster.running("b"));

    RedisClient a = cluster.client("a");
    CHECK(a.command({"SET", "k", "v"}) == Reply::string("OK"));
    CHECK(a.command({"GET", "k"}) == Reply::string("v"));
    CHECK(cluster.client("b").command({"GET", "k"}).is_nil());  // separate processes

    cluster.pause("a");
    RedisClient stalled = cluster.client("a", 300);  // the kernel still accepts the connection
    CHECK(stalled.command({"PING"}).is_io_error());
    cluster.resume("a");
    CHECK(cluster.client("a").command({"PING"}) == Reply::string("PONG"));

    cluster.kill9("b");
    CHECK_FALSE(cluster.running("b"));
    CHECK(cluster.client("b").command({"PING"}).is_io_error());
    cluster.start("b");
    CHECK(cluster.client("b").command({"PING"}) == Reply::string("PONG"));

    cluster.pause("a");
    CHECK(cluster.terminate("a") == 0);  // a paused node is woken up to handle SIGTERM
    CHECK_FALSE(cluster.running("a"));

    auto failed = cluster.try_start("a", {"--exit"});
    REQUIRE_FALSE(failed.has_value());
    CHECK(failed.error().find("exited with status 7") != std::string::npos);
    CHECK(failed.error().find("fake node: told to exit") != std::string::npos);
    CHECK(cluster.log_tail("a").find("=== harness: starting") != std::string::npos);
}

TEST_CASE("starting a node whose binary is missing reports where it was looked for") {
    ScopedEnv node(std::string("MERIDIAN_NODE_BIN"), "/nonexistent/meridian-node");
    Cluster cluster({"a"}, "");
    auto started = cluster.try_start("a");
    REQUIRE_FALSE(started.has_value());
    CHECK(started.error().find("/nonexistent/meridian-node") != std::string::npos);
    auto [status, output] = run_node({"--help"});
    CHECK(status == -1);
    CHECK(output.find("/nonexistent/meridian-node") != std::string::npos);
}
