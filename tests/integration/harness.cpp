#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "tests/tools/loopback_port.hpp"

namespace meridian::test {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// hiredis writes with write(2): a node killed under a test must not kill the test with SIGPIPE.
const bool sigpipe_ignored = [] {
    ::signal(SIGPIPE, SIG_IGN);
    return true;
}();

constexpr int ready_deadline_ms = 10'000;
constexpr int terminate_deadline_ms = 15'000;
constexpr std::size_t max_captured_output = 1u << 20;

std::string errno_text(const std::string& what) {
    return what + ": " + std::strerror(errno);
}

int decode_status(int raw) {
    if (WIFEXITED(raw)) return WEXITSTATUS(raw);
    if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
    return -1;
}

timeval to_timeval(int ms) {
    timeval tv{};
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

void close_fds_from(unsigned first, unsigned keep) {
    // close_range(2) is one syscall; the loop is for kernels older than 5.9.
    if (keep > first) {
        if (::close_range(first, keep - 1, 0) != 0) {
            for (unsigned fd = first; fd < keep; ++fd) ::close(static_cast<int>(fd));
        }
    }
    const unsigned from = std::max(first, keep + 1);
    if (::close_range(from, ~0U, 0) != 0) {
        rlimit limit{};
        unsigned top = 65536;
        if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < top) {
            top = static_cast<unsigned>(limit.rlim_cur);
        }
        for (unsigned fd = from; fd < top; ++fd) ::close(static_cast<int>(fd));
    }
}

// fork + exec with stdin from /dev/null and the given stdout/stderr. Between fork and exec the
// child only makes async-signal-safe calls. Every other descriptor is closed in the child, so
// a node never holds a copy of a test's client socket (closing it in the test must close it).
Expected<pid_t, std::string> spawn_child(const std::string& program,
                                         const std::vector<std::string>& args, int stdout_fd,
                                         int stderr_fd) {
    std::vector<std::string> storage;
    storage.push_back(program);
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& s : storage) argv.push_back(s.data());
    argv.push_back(nullptr);

    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0) return unexpected(errno_text("open /dev/null"));
    int exec_error[2];
    if (::pipe2(exec_error, O_CLOEXEC) != 0) {
        ::close(null_fd);
        return unexpected(errno_text("pipe"));
    }
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        ::close(null_fd);
        ::close(exec_error[0]);
        ::close(exec_error[1]);
        return unexpected(errno_text("fork"));
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the test died before prctl took effect
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        ::dup2(null_fd, 0);
        ::dup2(stdout_fd, 1);
        ::dup2(stderr_fd, 2);
        int error_fd = exec_error[1];
        close_fds_from(3, static_cast<unsigned>(error_fd));
        ::execvp(argv[0], argv.data());
        int err = errno;
        [[maybe_unused]] auto n = ::write(error_fd, &err, sizeof err);
        ::_exit(127);
    }
    ::close(null_fd);
    ::close(exec_error[1]);
    int err = 0;
    ssize_t n;
    do {
        n = ::read(exec_error[0], &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    ::close(exec_error[0]);
    if (n == static_cast<ssize_t>(sizeof err)) {
        int raw = 0;
        ::waitpid(pid, &raw, 0);
        return unexpected("cannot run " + program + ": " + std::strerror(err));
    }
    return pid;
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return "(no log at " + path + ")";
    in.seekg(0, std::ios::end);
    const auto size = static_cast<std::size_t>(in.tellg());
    const std::size_t start = size > max_bytes ? size - max_bytes : 0;
    in.seekg(static_cast<std::streamoff>(start));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return (start > 0 ? "..." : "") + text;
}

void append_line(const std::string& path, const std::string& line) {
    std::ofstream out(path, std::ios::app);
    out << line << "\n";
}

std::string toml_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

// Whether `toml` assigns `key` before its first table header (a cheap scan, not a parser: it is
// only used to avoid writing a default the test already wrote).
bool sets_top_level_key(const std::string& toml, const std::string& key) {
    std::istringstream lines(toml);
    std::string line;
    while (std::getline(lines, line)) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos) continue;
        if (line[first] == '[') return false;
        if (line.compare(first, key.size(), key) != 0) continue;
        const auto after = line.find_first_not_of(" \t", first + key.size());
        if (after != std::string::npos && line[after] == '=') return true;
    }
    return false;
}

std::string describe_process_end(int status) {
    if (status > 128) return "was killed by signal " + std::to_string(status - 128);
    return "exited with status " + std::to_string(status);
}

std::string printable(const std::string& s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

}  // namespace

// ---- free_port, TempDir ------------------------------------------------------------------

std::uint16_t free_port() {
    const auto port = meridian::testing::lease_loopback_port();
    if (!port) FAIL("free_port: every loopback port outside the ephemeral range is taken");
    return *port;
}

TempDir::TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/meridian-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) FAIL(errno_text("mkdtemp " + pattern));
    path_ = pattern;
}

TempDir::~TempDir() {
    if (path_.empty()) return;
    if (std::getenv("MERIDIAN_KEEP_TEST_DATA") != nullptr) {
        std::cerr << "MERIDIAN_KEEP_TEST_DATA: keeping " << path_ << "\n";
        return;
    }
    std::error_code ignored;
    fs::remove_all(path_, ignored);
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::exchange(other.path_, {})) {}

TempDir& TempDir::operator=(TempDir&& other) noexcept {
    if (this != &other) {
        TempDir old(std::move(*this));
        path_ = std::exchange(other.path_, {});
    }
    return *this;
}

// ---- Reply ---------------------------------------------------------------------------------

const std::string& Reply::as_string() const& {
    static const std::string empty;
    const auto* s = std::get_if<std::string>(&value_);
    return s ? *s : empty;
}

long long Reply::as_integer() const {
    const auto* n = std::get_if<long long>(&value_);
    return n ? *n : 0;
}

const Reply::Array& Reply::as_array() const& {
    static const Array empty;
    const auto* a = std::get_if<Array>(&value_);
    return a ? *a : empty;
}

std::string Reply::as_string() && {
    auto* s = std::get_if<std::string>(&value_);
    return s ? std::move(*s) : std::string();
}

Reply::Array Reply::as_array() && {
    auto* a = std::get_if<Array>(&value_);
    return a ? std::move(*a) : Array();
}

const std::string& Reply::error_message() const {
    static const std::string empty;
    if (const auto* e = std::get_if<Error>(&value_)) return e->message;
    if (const auto* e = std::get_if<IoError>(&value_)) return e->message;
    return empty;
}

std::string Reply::describe() const {
    struct Describe {
        std::string operator()(const std::string& s) const { return "\"" + printable(s) + "\""; }
        std::string operator()(long long n) const { return "(integer) " + std::to_string(n); }
        std::string operator()(const Nil&) const { return "(nil)"; }
        std::string operator()(const Error& e) const { return "(error) " + e.message; }
        std::string operator()(const IoError& e) const { return "(io error) " + e.message; }
        std::string operator()(const Array& a) const {
            std::string out = "[";
            for (std::size_t i = 0; i < a.size(); ++i) {
                if (i > 0) out += ", ";
                out += a[i].describe();
            }
            return out + "]";
        }
    };
    return std::visit(Describe{}, value_);
}

std::ostream& operator<<(std::ostream& out, const Reply& reply) {
    return out << reply.describe();
}

// ---- RedisClient -------------------------------------------------------------------------

namespace {

Reply convert(const redisReply* r) {
    switch (r->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            return Reply::string(std::string(r->str, r->len));
        case REDIS_REPLY_INTEGER:
            return Reply::integer(r->integer);
        case REDIS_REPLY_NIL:
            return Reply::nil();
        case REDIS_REPLY_ERROR:
            return Reply::error(std::string(r->str, r->len));
        case REDIS_REPLY_ARRAY: {
            Reply::Array elements;
            elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i)
                elements.push_back(convert(r->element[i]));
            return Reply::array(std::move(elements));
        }
        default:
            return Reply::io_error("unknown reply type " + std::to_string(r->type));
    }
}

}  // namespace

void RedisClient::ContextDeleter::operator()(redisContext* context) const {
    redisFree(context);
}

RedisClient::RedisClient(std::unique_ptr<redisContext, ContextDeleter> context, std::string error)
    : context_(std::move(context)), dead_reason_(std::move(error)) {}

RedisClient::RedisClient(RedisClient&&) noexcept = default;
RedisClient& RedisClient::operator=(RedisClient&&) noexcept = default;
RedisClient::~RedisClient() = default;

Expected<RedisClient, std::string> RedisClient::connect(std::uint16_t port, int timeout_ms) {
    std::unique_ptr<redisContext, ContextDeleter> context(
        redisConnectWithTimeout("127.0.0.1", port, to_timeval(timeout_ms)));
    if (!context) return unexpected(std::string("cannot allocate a hiredis context"));
    if (context->err) {
        return unexpected("connect to 127.0.0.1:" + std::to_string(port) + ": " + context->errstr);
    }
    if (redisSetTimeout(context.get(), to_timeval(timeout_ms)) != REDIS_OK) {
        return unexpected(std::string("cannot set the socket timeout"));
    }
    return RedisClient(std::move(context), {});
}

RedisClient RedisClient::failed(std::string reason) {
    return RedisClient(nullptr, std::move(reason));
}

bool RedisClient::connected() const {
    return context_ && context_->err == 0;
}

void RedisClient::set_timeout(int timeout_ms) {
    if (connected()) redisSetTimeout(context_.get(), to_timeval(timeout_ms));
}

Reply RedisClient::command(std::vector<std::string> argv) {
    auto replies = pipeline({std::move(argv)});
    return std::move(replies.front());
}

std::vector<Reply> RedisClient::pipeline(const std::vector<std::vector<std::string>>& commands) {
    std::vector<Reply> replies;
    replies.reserve(commands.size());
    auto dead = [&] {
        std::string why = !context_ ? dead_reason_ : std::string(context_->errstr);
        while (replies.size() < commands.size()) replies.push_back(Reply::io_error(why));
        return replies;
    };
    if (!connected()) return dead();
    for (const auto& argv : commands) {
        std::vector<const char*> pointers;
        std::vector<std::size_t> lengths;
        for (const auto& arg : argv) {
            pointers.push_back(arg.data());
            lengths.push_back(arg.size());
        }
        if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), pointers.data(),
                                   lengths.data()) != REDIS_OK) {
            return dead();
        }
    }
    for (std::size_t i = 0; i < commands.size(); ++i) {
        void* raw = nullptr;
        if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) return dead();
        auto* reply = static_cast<redisReply*>(raw);
        replies.push_back(convert(reply));
        freeReplyObject(reply);
    }
    return replies;
}

// ---- Process -----------------------------------------------------------------------------

Expected<Process, std::string> Process::spawn(const std::string& program,
                                              const std::vector<std::string>& args,
                                              const std::string& output_path) {
    int out = ::open(output_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0) return unexpected(errno_text("open " + output_path));
    auto pid = spawn_child(program, args, out, out);
    ::close(out);
    if (!pid) return unexpected(pid.error());
    return Process(*pid);
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(std::exchange(other.status_, std::nullopt)) {}

Process& Process::operator=(Process&& other) noexcept {
    if (this != &other) {
        if (pid_ > 0 && !status_) kill();
        pid_ = std::exchange(other.pid_, -1);
        status_ = std::exchange(other.status_, std::nullopt);
    }
    return *this;
}

Process::~Process() {
    if (pid_ > 0 && !status_) kill();
}

bool Process::running() {
    if (pid_ <= 0 || status_) return false;
    int raw = 0;
    const pid_t r = ::waitpid(pid_, &raw, WNOHANG);
    if (r == pid_) {
        status_ = decode_status(raw);
    } else if (r < 0 && errno == ECHILD) {
        status_ = -1;  // not ours to wait for any more
    }
    return !status_;
}

void Process::signal(int signal_number) {
    if (running()) ::kill(pid_, signal_number);
}

std::optional<int> Process::wait(int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (running()) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return status_;
}

int Process::kill() {
    if (pid_ <= 0) return -1;
    if (status_) return *status_;
    ::kill(pid_, SIGKILL);
    int raw = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &raw, 0);
    } while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? decode_status(raw) : -1;
    return *status_;
}

// ---- FaultProxy --------------------------------------------------------------------------

Expected<FaultProxy, std::string> FaultProxy::start(std::uint16_t target_port,
                                                    const std::string& log_path) {
    const std::string binary = proxy_binary();
    if (!is_executable(binary)) {
        return unexpected(binary + " is missing (build the meridian-fault-proxy target)");
    }
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) return unexpected(errno_text("open " + log_path));
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ::close(log);
        return unexpected(errno_text("pipe"));
    }
    auto pid = spawn_child(binary,
                           {"--listen", "127.0.0.1:0", "--target",
                            "127.0.0.1:" + std::to_string(target_port), "--control", "127.0.0.1:0"},
                           out[1], log);
    ::close(out[1]);
    ::close(log);
    if (!pid) {
        ::close(out[0]);
        return unexpected(pid.error());
    }
    Process process(*pid);

    // The first line is "listening <port> control <port>".
    std::string line;
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (line.find('\n') == std::string::npos) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{out[0], POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buffer[256];
        const ssize_t n = ::read(out[0], buffer, sizeof buffer);
        if (n <= 0) break;
        line.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    unsigned port = 0, control = 0;
    if (std::sscanf(line.c_str(), "listening %u control %u", &port, &control) != 2 || port == 0 ||
        port > 65535 || control == 0 || control > 65535) {
        process.kill();
        return unexpected("meridian-fault-proxy did not report its ports (got \"" +
                          printable(line) + "\"); log:\n" + read_tail(log_path, 2000));
    }
    return FaultProxy(std::move(process), static_cast<std::uint16_t>(port),
                      static_cast<std::uint16_t>(control));
}

std::string FaultProxy::command(const std::string& line) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "ERR harness: " + errno_text("socket");
    const timeval tv = to_timeval(5000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(control_port_);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        answer = "ERR harness: " + errno_text("connect to the proxy's control port");
    } else {
        const std::string request = line + "\n";
        if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(request.size())) {
            answer = "ERR harness: " + errno_text("send to the proxy");
        } else {
            char c;
            ssize_t n;
            while ((n = ::recv(fd, &c, 1, 0)) == 1 && c != '\n') answer += c;
            if (n <= 0) {
                answer = "ERR harness: " +
                         (n == 0 ? std::string("the proxy closed the control connection")
                                 : errno_text("no answer from the proxy"));
            }
        }
    }
    ::close(fd);
    return answer;
}

// ---- binaries, eventually, run_program ---------------------------------------------------

std::string node_binary() {
    if (const char* override_path = std::getenv("MERIDIAN_NODE_BIN");
        override_path && *override_path) {
        return override_path;
    }
    return MERIDIAN_BIN_DIR "/meridian-node";
}

std::string proxy_binary() {
    return MERIDIAN_BIN_DIR "/meridian-fault-proxy";
}

bool is_executable(const std::string& path) {
    return ::access(path.c_str(), X_OK) == 0;
}

Expected<Process, std::string> start_redis_server(std::uint16_t port, const std::string& dir) {
    const std::string log = dir + "/redis.log";
    auto process = Process::spawn("redis-server",
                                  {"--port", std::to_string(port), "--bind", "127.0.0.1", "--save",
                                   "", "--appendonly", "no", "--dir", dir},
                                  log);
    if (!process) return unexpected("redis-server: " + process.error());
    const bool up = eventually(
        [&] {
            auto c = RedisClient::connect(port, 200);
            return c && c->command({"PING"}) == Reply::string("PONG");
        },
        10000);
    if (up) return std::move(*process);
    std::ifstream in(log);
    std::ostringstream text;
    text << in.rdbuf();
    return unexpected("redis-server did not answer PING on port " + std::to_string(port) +
                      "; its log:\n" + text.str());
}

std::optional<std::string> info_value(RedisClient& client, const std::string& field) {
    const Reply info = client.command({"INFO", "all"});
    REQUIRE(info.is_string());
    const std::string& text = info.as_string();
    const std::string head = field + ":";
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = std::min(text.find("\r\n", at), text.size());
        if (text.compare(at, head.size(), head) == 0 && at + head.size() <= end)
            return text.substr(at + head.size(), end - at - head.size());
        at = end + 2;
    }
    return std::nullopt;
}

long long info_number(RedisClient& client, const std::string& field) {
    const auto value = info_value(client, field);
    return value ? std::stoll(*value) : -1;
}

bool eventually(std::function<bool()> predicate, int timeout_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (predicate()) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

bool connected(Cluster& cluster, const std::string& region, int peers) {
    RedisClient c = cluster.client(region);
    return info_number(c, "connected_regions") == peers;
}

void start_connected(Cluster& cluster) {
    cluster.start_all();
    const std::vector<std::string> regions = cluster.region_names();
    for (const auto& region : regions) {
        INFO(region);
        REQUIRE(eventually(
            [&] { return connected(cluster, region, static_cast<int>(regions.size()) - 1); },
            15000));
    }
}

std::pair<int, std::string> run_program(const std::string& program,
                                        const std::vector<std::string>& args, int timeout_ms) {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return {-1, "harness: " + errno_text("pipe")};
    auto pid = spawn_child(program, args, out[1], out[1]);
    ::close(out[1]);
    if (!pid) {
        ::close(out[0]);
        return {-1, "harness: " + pid.error()};
    }
    Process process(*pid);
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    auto left_ms = [&] {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return static_cast<int>(std::max<long long>(0, left.count()));
    };
    std::string output;
    bool timed_out = false;
    for (;;) {
        pollfd p{out[0], POLLIN, 0};
        const int ready = ::poll(&p, 1, left_ms());
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) {
            timed_out = true;
            break;
        }
        char buffer[4096];
        const ssize_t n = ::read(out[0], buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EOF: every writer (the program and its children) is gone
        if (output.size() < max_captured_output) output.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    std::optional<int> status = timed_out ? std::nullopt : process.wait(left_ms());
    if (!status) {
        process.kill();
        output += "\n[harness: killed after " + std::to_string(timeout_ms) + " ms]\n";
        return {-1, output};
    }
    return {*status, output};
}

std::pair<int, std::string> run_node(std::vector<std::string> args, int timeout_ms) {
    return run_program(node_binary(), args, timeout_ms);
}

// ---- Cluster -----------------------------------------------------------------------------

Cluster::Cluster(std::vector<std::string> region_names, std::string extra_toml, bool with_proxies)
    : extra_toml_(std::move(extra_toml)) {
    if (region_names.empty()) FAIL("Cluster: no regions");
    for (std::size_t i = 0; i < region_names.size(); ++i) {
        const std::string& name = region_names[i];
        for (const auto& other : regions_) {
            if (other.spec.name == name) FAIL("Cluster: region " + name + " named twice");
        }
        Region r;
        r.spec.name = name;
        r.spec.id = static_cast<std::uint16_t>(i + 1);
        r.spec.client_port = free_port();
        r.spec.peer_port = free_port();
        r.spec.admin_port = free_port();
        r.spec.data_dir = root_.path() + "/" + name;
        r.config_path = root_.path() + "/" + name + ".toml";
        r.log_path = r.spec.data_dir + "/node.log";
        std::error_code ec;
        fs::create_directories(r.spec.data_dir, ec);
        if (ec) FAIL("Cluster: cannot create " + r.spec.data_dir + ": " + ec.message());
        regions_.push_back(std::move(r));
    }
    if (with_proxies) {
        for (const auto& low : regions_) {
            for (const auto& high : regions_) {
                if (low.spec.id >= high.spec.id) continue;
                const std::string log =
                    root_.path() + "/proxy-" + low.spec.name + "-" + high.spec.name + ".log";
                auto proxy = FaultProxy::start(high.spec.peer_port, log);
                if (!proxy) FAIL("Cluster: " + proxy.error());
                proxies_.emplace(std::make_pair(low.spec.id, high.spec.id), std::move(*proxy));
            }
        }
    }
    for (const auto& r : regions_) {
        std::ofstream out(r.config_path);
        out << config_text(r);
        if (!out.flush()) FAIL("Cluster: cannot write " + r.config_path);
    }
}

Cluster::~Cluster() {
    for (auto& r : regions_) r.process.reset();  // ~Process SIGKILLs and reaps
    proxies_.clear();
}

std::string Cluster::config_text(const Region& self) const {
    std::ostringstream out;
    out << "# Written by the integration-test harness for region " << self.spec.name << ".\n";
    if (!sets_top_level_key(extra_toml_, "cluster")) out << "cluster = \"meridian-test\"\n";
    if (!sets_top_level_key(extra_toml_, "secret") &&
        !sets_top_level_key(extra_toml_, "secret_file")) {
        out << "secret = \"meridian-test-secret\"\n";
    }
    out << "\n" << extra_toml_ << "\n";
    for (const auto& r : regions_) {
        std::uint16_t peer_port = r.spec.peer_port;
        auto proxy = proxies_.find({self.spec.id, r.spec.id});  // only when self.id < r.id
        if (proxy != proxies_.end()) peer_port = proxy->second.port();
        out << "\n[[regions]]\n"
            << "id = " << r.spec.id << "\n"
            << "name = " << toml_string(r.spec.name) << "\n"
            << "client_listen = \"127.0.0.1:" << r.spec.client_port << "\"\n"
            << "peer_listen = \"127.0.0.1:" << peer_port << "\"\n"
            << "admin_listen = \"127.0.0.1:" << r.spec.admin_port << "\"\n"
            << "data_dir = " << toml_string(r.spec.data_dir) << "\n";
    }
    return out.str();
}

Cluster::Region& Cluster::region(const std::string& name) {
    for (auto& r : regions_) {
        if (r.spec.name == name) return r;
    }
    FAIL("Cluster: no region named \"" + name + "\"");
    throw std::logic_error("unreachable: FAIL throws");
}

const Cluster::Region& Cluster::region(const std::string& name) const {
    return const_cast<Cluster*>(this)->region(name);
}

Expected<void, std::string> Cluster::launch(Region& r, const std::vector<std::string>& extra_args) {
    if (r.process && r.process->running()) {
        return unexpected("region " + r.spec.name + " is already running");
    }
    const std::string binary = node_binary();
    if (!is_executable(binary)) {
        return unexpected(binary + " is missing (build the meridian-node target first)");
    }
    std::vector<std::string> args = {"--config", r.config_path, "--region", r.spec.name};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::string command_line = binary;
    for (const auto& a : args) command_line += " " + a;
    append_line(r.log_path, "=== harness: starting " + command_line);
    auto process = Process::spawn(binary, args, r.log_path);
    if (!process) return unexpected(process.error());
    r.process.emplace(std::move(*process));
    return {};
}

Expected<void, std::string> Cluster::await_ready(Region& r) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(ready_deadline_ms);
    std::string last_error = "no attempt";
    while (Clock::now() < deadline) {
        if (!r.process || !r.process->running()) {
            const int status = r.process ? r.process->exit_status().value_or(-1) : -1;
            return unexpected("meridian-node " + r.spec.name + " " + describe_process_end(status) +
                              " before answering PING; log " + r.log_path + ":\n" +
                              read_tail(r.log_path, 4000));
        }
        auto client = RedisClient::connect(r.spec.client_port, 250);
        if (client) {
            Reply pong = client->command({"PING"});
            if (pong == Reply::string("PONG")) return {};
            last_error = "PING answered " + pong.describe();
        } else {
            last_error = client.error();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.process->kill();
    return unexpected("meridian-node " + r.spec.name + " did not answer PING within " +
                      std::to_string(ready_deadline_ms / 1000) + " s (last: " + last_error +
                      "); log " + r.log_path + ":\n" + read_tail(r.log_path, 4000));
}

Expected<void, std::string> Cluster::try_start(const std::string& name,
                                               std::vector<std::string> extra_args) {
    Region& r = region(name);
    if (auto launched = launch(r, extra_args); !launched) return launched;
    return await_ready(r);
}

void Cluster::start(const std::string& name, std::vector<std::string> extra_args) {
    auto started = try_start(name, std::move(extra_args));
    if (!started) FAIL(started.error());
}

void Cluster::start_all() {
    std::vector<Region*> launched;
    for (auto& r : regions_) {
        if (r.process && r.process->running()) continue;
        auto ok = launch(r, {});
        if (!ok) FAIL(ok.error());
        launched.push_back(&r);
    }
    for (Region* r : launched) {
        auto ready = await_ready(*r);
        if (!ready) FAIL(ready.error());
    }
}

void Cluster::kill9(const std::string& name) {
    Region& r = region(name);
    if (r.process) r.process->kill();
}

int Cluster::terminate(const std::string& name) {
    Region& r = region(name);
    if (!r.process || !r.process->running()) {
        FAIL("Cluster::terminate: region " + name + " is not running");
    }
    r.process->signal(SIGTERM);
    r.process->signal(SIGCONT);
    if (auto status = r.process->wait(terminate_deadline_ms)) return *status;
    WARN("meridian-node " << name << " ignored SIGTERM for " << terminate_deadline_ms / 1000
                          << " s; sending SIGKILL");
    return r.process->kill();
}

void Cluster::pause(const std::string& name) {
    Region& r = region(name);
    if (!r.process || !r.process->running()) FAIL("Cluster::pause: " + name + " is not running");
    r.process->signal(SIGSTOP);
}

void Cluster::resume(const std::string& name) {
    Region& r = region(name);
    if (!r.process || !r.process->running()) FAIL("Cluster::resume: " + name + " is not running");
    r.process->signal(SIGCONT);
}

void Cluster::partition(const std::string& a, const std::string& b) {
    REQUIRE(client(a).command({"MERIDIAN", "PAUSE", b}) == Reply::string("OK"));
    REQUIRE(client(b).command({"MERIDIAN", "PAUSE", a}) == Reply::string("OK"));
}

void Cluster::heal(const std::string& a, const std::string& b) {
    REQUIRE(client(a).command({"MERIDIAN", "RESUME", b}) == Reply::string("OK"));
    REQUIRE(client(b).command({"MERIDIAN", "RESUME", a}) == Reply::string("OK"));
}

bool Cluster::running(const std::string& name) const {
    const Region& r = region(name);
    return r.process && r.process->running();
}

RedisClient Cluster::client(const std::string& name, int timeout_ms) {
    auto client = RedisClient::connect(region(name).spec.client_port, timeout_ms);
    if (!client) return RedisClient::failed(name + ": " + client.error());
    return std::move(*client);
}

std::uint16_t Cluster::client_port(const std::string& name) const {
    return region(name).spec.client_port;
}

std::string Cluster::data_dir(const std::string& name) const {
    return region(name).spec.data_dir;
}

std::string Cluster::log_path(const std::string& name) const {
    return region(name).log_path;
}

std::string Cluster::config_path(const std::string& name) const {
    return region(name).config_path;
}

const RegionSpec& Cluster::spec(const std::string& name) const {
    return region(name).spec;
}

std::vector<std::string> Cluster::region_names() const {
    std::vector<std::string> names;
    for (const auto& r : regions_) names.push_back(r.spec.name);
    return names;
}

std::string Cluster::log_tail(const std::string& name, std::size_t max_bytes) const {
    return read_tail(region(name).log_path, max_bytes);
}

std::string Cluster::proxy(const std::string& a, const std::string& b, const std::string& command) {
    if (proxies_.empty()) FAIL("Cluster::proxy: this cluster was built without proxies");
    const std::uint16_t ia = region(a).spec.id;
    const std::uint16_t ib = region(b).spec.id;
    auto it = proxies_.find({std::min(ia, ib), std::max(ia, ib)});
    if (it == proxies_.end()) FAIL("Cluster::proxy: no proxy between " + a + " and " + b);
    return it->second.command(command);
}

}  // namespace meridian::test
