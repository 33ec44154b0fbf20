#include "support.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/tools/loopback_port.hpp"

namespace meridian::bench {

std::uint16_t free_port() {
    const auto port = meridian::testing::lease_loopback_port();
    if (!port) throw BenchError("no free loopback port outside the ephemeral range");
    return *port;
}

ScratchDir::ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/meridian-bench-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (!::mkdtemp(buffer.data())) throw BenchError("mkdtemp failed for " + pattern);
    path_ = buffer.data();
}

ScratchDir::~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

Child::Child(const std::string& program, const std::vector<std::string>& args,
             const std::string& log_path)
    : log_path_(log_path) {
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw BenchError("fork failed: " + std::string(std::strerror(errno)));
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        int in = ::open("/dev/null", O_RDONLY);
        if (out >= 0) {
            ::dup2(out, 1);
            ::dup2(out, 2);
        }
        if (in >= 0) ::dup2(in, 0);
        std::vector<char*> argv;
        argv.push_back(const_cast<char*>(program.c_str()));
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp(program.c_str(), argv.data());
        std::fprintf(stderr, "exec %s failed: %s\n", program.c_str(), std::strerror(errno));
        ::_exit(127);
    }
}

Child::~Child() {
    kill();
}

bool Child::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

void Child::kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

std::string Child::log_tail(std::size_t max_bytes) const {
    std::string text = read_file(log_path_);
    return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

namespace {

Reply convert(const redisReply* r) {
    Reply out;
    if (!r) return out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            out.kind = Reply::Kind::string;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_ERROR:
            out.kind = Reply::Kind::error;
            out.str.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.kind = Reply::Kind::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.kind = Reply::Kind::array;
            for (std::size_t i = 0; i < r->elements; ++i) {
                out.elements.push_back(convert(r->element[i]));
            }
            break;
        default:
            break;
    }
    return out;
}

Reply io_error(redisContext* c) {
    Reply out;
    out.kind = Reply::Kind::error;
    out.str = std::string("I/O error: ") + (c ? c->errstr : "no connection");
    return out;
}

}  // namespace

Client::Client(std::uint16_t port, int timeout_ms) {
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    context_ = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!context_ || context_->err) {
        std::string why = context_ ? context_->errstr : "out of memory";
        if (context_) redisFree(context_);
        context_ = nullptr;
        throw BenchError("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + why);
    }
    redisSetTimeout(context_, tv);
}

Client::~Client() {
    if (context_) redisFree(context_);
}

Client::Client(Client&& other) noexcept : context_(other.context_) {
    other.context_ = nullptr;
}

void Client::append(const std::vector<std::string>& argv) {
    std::vector<const char*> ptrs;
    std::vector<std::size_t> lens;
    for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    redisAppendCommandArgv(context_, static_cast<int>(argv.size()), ptrs.data(), lens.data());
}

Reply Client::read_reply() {
    void* raw = nullptr;
    if (redisGetReply(context_, &raw) != REDIS_OK || !raw) return io_error(context_);
    Reply out = convert(static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    return out;
}

Reply Client::command(const std::vector<std::string>& argv) {
    append(argv);
    return read_reply();
}

std::map<std::string, std::string> Client::info(const std::string& section) {
    Reply r = command({"INFO", section});
    if (r.is_error()) throw BenchError("INFO " + section + ": " + r.str);
    std::map<std::string, std::string> fields;
    std::istringstream in(r.str);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        fields[line.substr(0, colon)] = line.substr(colon + 1);
    }
    return fields;
}

bool wait_until(const std::function<bool()>& predicate, int timeout_ms, int every_ms) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
        if (predicate()) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(every_ms));
    }
}

bool wait_for_ping(std::uint16_t port, int timeout_ms) {
    return wait_until(
        [port] {
            try {
                Client c(port, 1000);
                Reply r = c.command({"PING"});
                return !r.is_error() && r.str == "PONG";
            } catch (const BenchError&) {
                return false;
            }
        },
        timeout_ms, 20);
}

std::map<std::string, std::string> split_fields(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) {
        const auto eq = item.find('=');
        if (eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
    }
    return out;
}

std::uint64_t to_u64(const std::string& text) {
    return text.empty() ? 0 : std::strtoull(text.c_str(), nullptr, 10);
}

std::string own_directory() {
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? "." : exe.parent_path().string();
}

bool is_executable(const std::string& path) {
    return ::access(path.c_str(), X_OK) == 0;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw BenchError("cannot write " + path);
}

}  // namespace meridian::bench
