#include "node/client_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <future>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "node/resp_reply.hpp"
#include "node/run_on.hpp"

using meridian::node::ClientServer;
using meridian::node::ClientServerOptions;
using meridian::node::ClientState;
using meridian::node::CommandHandler;
using meridian::node::ReplySlot;
namespace resp = meridian::node::resp;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

std::uint64_t steady_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count());
}

std::string lower(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

std::string command(std::initializer_list<std::string_view> args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (std::string_view arg : args) {
        out += "$" + std::to_string(arg.size()) + "\r\n";
        out += arg;
        out += "\r\n";
    }
    return out;
}

std::string bulk(std::string_view s) {
    std::string out;
    resp::bulk(out, s);
    return out;
}

// A stand-in for the node's command table, run on the io thread:
//   PING, ECHO s, QUIT, HELLO, AUTH pw (pw "secret" authenticates), SETNAME n,
//   LATER ms s (replies s after ms), BIG n [ignored...] (n bytes of 'x'), DROP (loses its slot).
class FakeHandler : public CommandHandler {
public:
    explicit FakeHandler(boost::asio::io_context& io) : io_(io) {}

    void execute(ClientState& client, std::vector<std::string>& args, ReplySlot slot) override {
        executed.push_back(args);
        const std::string name = lower(args[0]);
        std::string out;
        if (name == "ping") {
            resp::simple(out, "PONG");
        } else if (name == "echo" && args.size() == 2) {
            resp::bulk(out, args[1]);
        } else if (name == "quit") {
            client.close_after_reply = true;
            resp::simple(out, "OK");
        } else if (name == "hello") {
            resp::simple(out, "HELLO");
        } else if (name == "auth" && args.size() == 2) {
            client.authenticated = args[1] == "secret";
            if (client.authenticated) {
                resp::simple(out, "OK");
            } else {
                resp::error(out, "WRONGPASS invalid password");
            }
        } else if (name == "setname" && args.size() == 2) {
            client.name = args[1];
            resp::simple(out, "OK");
        } else if (name == "later" && args.size() == 3) {
            auto timer = std::make_shared<boost::asio::steady_timer>(
                io_, std::chrono::milliseconds(std::stoi(args[1])));
            timer->async_wait([this, timer, slot = std::move(slot), text = std::move(args[2])](
                                  const boost::system::error_code& ec) mutable {
                if (ec) return;
                late_alive.push_back(slot.client_alive());
                slot.complete(bulk(text));
            });
            return;
        } else if (name == "big" && args.size() >= 2) {
            resp::bulk(out, std::string(std::stoul(args[1]), 'x'));
        } else if (name == "drop") {
            return;
        } else {
            resp::error(out, "ERR unknown command '" + args[0] + "'");
        }
        slot.complete(std::move(out));
    }

    void after_batch() override { ++batches; }

    std::vector<std::vector<std::string>> executed;
    int batches = 0;
    std::vector<bool> late_alive;  // client_alive() when each LATER completed

private:
    boost::asio::io_context& io_;
};

// A server on 127.0.0.1:0 whose io_context runs on a background thread; tests look at its state
// through on_io so that only the io thread ever touches it.
class TestServer {
public:
    explicit TestServer(ClientServerOptions options = {})
        : server_(io_, loopback(std::move(options)), handler_, steady_ms) {
        auto started = server_.start();
        if (!started) FAIL(started.error());
        port_ = server_.bound_port();
        thread_ = std::thread([this] { io_.run(); });
    }

    ~TestServer() {
        on_io([this] { server_.close_all(); });
        io_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return port_; }

    template <class F>
    auto on_io(F f) -> decltype(f()) {
        return meridian::node::testing::run_on(io_, std::move(f));
    }

    ClientServer::Stats stats() {
        return on_io([this] { return server_.stats(); });
    }
    std::size_t clients() {
        return on_io([this] { return server_.connected_clients(); });
    }
    std::vector<std::vector<std::string>> executed() {
        return on_io([this] { return handler_.executed; });
    }
    int batches() {
        return on_io([this] { return handler_.batches; });
    }
    std::vector<bool> late_alive() {
        return on_io([this] { return handler_.late_alive; });
    }
    ClientServer& server() { return server_; }
    FakeHandler& handler() { return handler_; }

    // Polls `done` (run on the io thread, so it must not call on_io) until it holds or
    // `timeout` passes.
    template <class F>
    bool eventually(F done, std::chrono::milliseconds timeout = 5s) {
        const auto deadline = Clock::now() + timeout;
        while (!on_io(done)) {
            if (Clock::now() > deadline) return false;
            std::this_thread::sleep_for(5ms);
        }
        return true;
    }

private:
    static ClientServerOptions loopback(ClientServerOptions options) {
        options.listen = "127.0.0.1:0";
        return options;
    }

    boost::asio::io_context io_;
    FakeHandler handler_{io_};
    ClientServer server_;
    std::uint16_t port_ = 0;
    // Keeps run() going when no socket or timer is busy, so on_io works after close_all().
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(io_);
    std::thread thread_;
};

// Where the RESP reply starting at `pos` ends, or npos while it is incomplete.
std::size_t reply_end(std::string_view b, std::size_t pos) {
    const std::size_t eol = b.find("\r\n", pos);
    if (pos >= b.size() || eol == std::string_view::npos) return std::string_view::npos;
    const char type = b[pos];
    if (type == '+' || type == '-' || type == ':') return eol + 2;
    const long n = std::stol(std::string(b.substr(pos + 1, eol - pos - 1)));
    if (type == '$') {
        if (n < 0) return eol + 2;
        const std::size_t end = eol + 2 + static_cast<std::size_t>(n) + 2;
        return end <= b.size() ? end : std::string_view::npos;
    }
    std::size_t next = eol + 2;
    for (long i = 0; i < n && next != std::string_view::npos; ++i) next = reply_end(b, next);
    return next;
}

// A Redis client over a plain POSIX socket: blocking sends, and reads bounded by poll() so a
// broken server fails the test rather than hanging it. buffer_bytes > 0 shrinks the socket's
// kernel buffers, so that a client that stops reading backs up into the server quickly.
class RawClient {
public:
    explicit RawClient(std::uint16_t port, int buffer_bytes = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (buffer_bytes > 0) {
            ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &buffer_bytes, sizeof buffer_bytes);
            ::setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buffer_bytes, sizeof buffer_bytes);
        }
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~RawClient() { ::close(fd_); }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    bool connected() const { return connected_; }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Sends what the socket takes without blocking: the count, 0 when full, -1 when broken.
    long send_some(std::string_view bytes) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return n;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }

    void shutdown_sending() { ::shutdown(fd_, SHUT_WR); }

    // The next whole reply as raw bytes, "<eof>" when the server closed (or reset) the
    // connection, "<timeout>" when nothing complete arrived in time.
    std::string reply(std::chrono::milliseconds timeout = 5s) {
        const auto deadline = Clock::now() + timeout;
        for (;;) {
            const std::size_t end = reply_end(buffer_, 0);
            if (end != std::string_view::npos) {
                std::string out = buffer_.substr(0, end);
                buffer_.erase(0, end);
                return out;
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            if (left.count() <= 0) return "<timeout>";
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char chunk[64 * 1024];
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n <= 0) return "<eof>";
            received_ += static_cast<std::size_t>(n);
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

    std::size_t received() const { return received_; }

private:
    int fd_ = -1;
    bool connected_ = false;
    std::string buffer_;
    std::size_t received_ = 0;
};

std::vector<std::string> names(const std::vector<std::vector<std::string>>& executed) {
    std::vector<std::string> out;
    for (const auto& args : executed) out.push_back(args.at(0));
    return out;
}

}  // namespace

TEST_CASE("pipelined requests are answered in order, with one after_batch per read") {
    TestServer s;
    RawClient c(s.port());
    REQUIRE(c.send(command({"ECHO", "a"}) + command({"PING"}) + command({"ECHO", "b"})));
    CHECK(c.reply() == bulk("a"));
    CHECK(c.reply() == "+PONG\r\n");
    CHECK(c.reply() == bulk("b"));
    CHECK(names(s.executed()) == std::vector<std::string>{"ECHO", "PING", "ECHO"});
    CHECK(s.batches() == 1);
}

TEST_CASE("inline requests are served as redis-cli's telnet mode sends them") {
    TestServer s;
    RawClient c(s.port());
    REQUIRE(c.send("PING\r\necho \"hello world\"\r\n"));
    CHECK(c.reply() == "+PONG\r\n");
    CHECK(c.reply() == bulk("hello world"));
}

TEST_CASE("a deferred reply holds back the replies after it") {
    TestServer s;
    RawClient c(s.port());
    const auto sent = Clock::now();
    REQUIRE(c.send(command({"LATER", "150", "first"}) + command({"PING"}) +
                   command({"ECHO", "third"})));
    CHECK(c.reply(60ms) == "<timeout>");
    CHECK(c.reply() == bulk("first"));
    CHECK(Clock::now() - sent >= 150ms);
    CHECK(c.reply() == "+PONG\r\n");
    CHECK(c.reply() == bulk("third"));
}

TEST_CASE("deferred replies completed out of order still go out in request order") {
    TestServer s;
    RawClient c(s.port());
    REQUIRE(c.send(command({"LATER", "200", "a"}) + command({"LATER", "20", "b"}) +
                   command({"ECHO", "c"}) + command({"LATER", "60", "d"})));
    CHECK(c.reply() == bulk("a"));
    CHECK(c.reply() == bulk("b"));
    CHECK(c.reply() == bulk("c"));
    CHECK(c.reply() == bulk("d"));
    // The stream keeps working in its ordinary, synchronous mode afterwards.
    REQUIRE(c.send(command({"PING"})));
    CHECK(c.reply() == "+PONG\r\n");
}

TEST_CASE("a protocol error is answered after the replies before it, then the connection closes") {
    TestServer s;
    RawClient c(s.port());
    REQUIRE(c.send(command({"LATER", "50", "before"}) + command({"PING"}) + "*1\r\n$x\r\n" +
                   command({"ECHO", "never"})));
    CHECK(c.reply() == bulk("before"));
    CHECK(c.reply() == "+PONG\r\n");
    CHECK(c.reply() == "-ERR Protocol error: invalid bulk length\r\n");
    CHECK(c.reply() == "<eof>");
    CHECK(names(s.executed()) == std::vector<std::string>{"LATER", "PING"});
    CHECK(s.stats().protocol_errors == 1);
    CHECK(s.eventually([&] { return s.server().connected_clients() == 0; }));
}

TEST_CASE("a request over a limit is refused and the connection lives on") {
    ClientServerOptions options;
    options.limits.max_bulk_bytes = 16;
    TestServer s(options);
    RawClient c(s.port());
    REQUIRE(c.send(command({"ECHO", std::string(100, 'v')}) + command({"PING"})));
    const std::string refused = c.reply();
    CHECK(refused.rfind("-ERR bulk length 100 exceeds max_bulk_bytes", 0) == 0);
    CHECK(c.reply() == "+PONG\r\n");
    CHECK(names(s.executed()) == std::vector<std::string>{"PING"});
    CHECK(s.stats().limit_errors == 1);
}

TEST_CASE("QUIT answers OK and closes once the replies before it are written") {
    TestServer s;
    RawClient c(s.port());
    REQUIRE(c.send(command({"LATER", "50", "a"}) + command({"QUIT"}) + command({"PING"})));
    CHECK(c.reply() == bulk("a"));
    CHECK(c.reply() == "+OK\r\n");
    CHECK(c.reply() == "<eof>");
    // Requests pipelined after QUIT are ignored, as Redis does.
    CHECK(names(s.executed()) == std::vector<std::string>{"LATER", "QUIT"});
}

TEST_CASE("a client that shuts its sending side still gets the replies already made") {
    TestServer s;
    RawClient c(s.port());
    REQUIRE(c.send(command({"ECHO", std::string(200000, 'e')}) + command({"PING"})));
    c.shutdown_sending();
    CHECK(c.reply() == bulk(std::string(200000, 'e')));
    CHECK(c.reply() == "+PONG\r\n");
    CHECK(c.reply() == "<eof>");
}

TEST_CASE("past max_clients a new client gets an error and is closed, the others stay") {
    ClientServerOptions options;
    options.max_clients = 2;
    TestServer s(options);
    RawClient a(s.port());
    RawClient b(s.port());
    REQUIRE(a.send(command({"PING"})));
    REQUIRE(b.send(command({"PING"})));
    CHECK(a.reply() == "+PONG\r\n");
    CHECK(b.reply() == "+PONG\r\n");

    {
        RawClient extra(s.port());
        CHECK(extra.reply() == "-ERR max number of clients reached\r\n");
        CHECK(extra.reply() == "<eof>");
    }
    REQUIRE(a.send(command({"PING"})));
    CHECK(a.reply() == "+PONG\r\n");
    const auto stats = s.stats();
    CHECK(stats.rejected_connections == 1);
    CHECK(stats.total_connections_received == 2);

    b.shutdown_sending();
    CHECK(b.reply() == "<eof>");
    REQUIRE(s.eventually([&] { return s.server().connected_clients() == 1; }));
    RawClient c(s.port());
    REQUIRE(c.send(command({"PING"})));
    CHECK(c.reply() == "+PONG\r\n");
}

TEST_CASE("with requirepass only AUTH, HELLO and QUIT reach the handler until AUTH succeeds") {
    ClientServerOptions options;
    options.requirepass = "secret";
    TestServer s(options);
    RawClient c(s.port());
    REQUIRE(c.send(command({"PING"}) + command({"ECHO", "x"}) + command({"HELLO"}) +
                   command({"AUTH", "wrong"}) + command({"PING"})));
    CHECK(c.reply() == "-NOAUTH Authentication required.\r\n");
    CHECK(c.reply() == "-NOAUTH Authentication required.\r\n");
    CHECK(c.reply() == "+HELLO\r\n");
    CHECK(c.reply() == "-WRONGPASS invalid password\r\n");
    CHECK(c.reply() == "-NOAUTH Authentication required.\r\n");

    REQUIRE(c.send(command({"auth", "secret"}) + command({"PING"})));
    CHECK(c.reply() == "+OK\r\n");
    CHECK(c.reply() == "+PONG\r\n");
    CHECK(names(s.executed()) == std::vector<std::string>{"HELLO", "AUTH", "auth", "PING"});
    CHECK(s.stats().noauth_rejections == 3);

    // Authentication belongs to the connection, not to the address.
    RawClient other(s.port());
    REQUIRE(other.send(command({"PING"}) + command({"QUIT"})));
    CHECK(other.reply() == "-NOAUTH Authentication required.\r\n");
    CHECK(other.reply() == "+OK\r\n");
    CHECK(other.reply() == "<eof>");
}

TEST_CASE("a client that never reads is closed past max_pending_output, the others unharmed") {
    ClientServerOptions options;
    options.max_pending_output = 256 * 1024;
    TestServer s(options);
    RawClient hog(s.port(), 4096);
    RawClient other(s.port());
    REQUIRE(other.send(command({"PING"})));
    REQUIRE(other.reply() == "+PONG\r\n");

    const std::string request = command({"BIG", "65536"});
    std::string unsent;
    const auto deadline = Clock::now() + 10s;
    bool dropped = false;
    for (int round = 0; Clock::now() < deadline; ++round) {
        if (unsent.empty()) {
            for (int i = 0; i < 16; ++i) unsent += request;
        }
        const long n = hog.send_some(unsent);
        if (n < 0) break;  // the server closed it
        unsent.erase(0, static_cast<std::size_t>(n));
        if (n == 0) std::this_thread::sleep_for(2ms);
        if (round % 16 == 0 && s.stats().client_output_buffer_limit_disconnections > 0) break;
    }
    dropped = s.eventually(
        [&] { return s.server().stats().client_output_buffer_limit_disconnections == 1; });
    CHECK(dropped);
    REQUIRE(other.send(command({"ECHO", "still here"})));
    CHECK(other.reply() == bulk("still here"));
    CHECK(s.eventually([&] { return s.server().connected_clients() == 1; }));
}

TEST_CASE("a client that stops reading is paused, not dropped, and then served in full") {
    TestServer s;
    RawClient slow(s.port(), 4096);
    // Large requests, so the server's socket buffer holds few of them while it is paused.
    const std::string request = command({"BIG", "65536", std::string(8192, 'p')});
    std::size_t sent_bytes = 0;
    auto last_progress = Clock::now();
    const auto deadline = Clock::now() + 10s;
    std::string_view unsent;
    while (Clock::now() - last_progress < 300ms && Clock::now() < deadline) {
        if (unsent.empty()) unsent = request;
        const long n = slow.send_some(unsent);
        REQUIRE(n >= 0);
        if (n > 0) {
            sent_bytes += static_cast<std::size_t>(n);
            unsent.remove_prefix(static_cast<std::size_t>(n));
            last_progress = Clock::now();
        } else {
            std::this_thread::sleep_for(2ms);
        }
    }
    // The sender is blocked: the server stopped reading it.
    const std::size_t executed = s.executed().size();
    INFO("requests sent: " << sent_bytes / request.size() << ", executed: " << executed);
    std::this_thread::sleep_for(200ms);
    CHECK(s.executed().size() == executed);
    CHECK(s.clients() == 1);

    // Reading drains it; the server resumes, and every request gets its reply.
    const std::size_t requests = (sent_bytes + request.size() - 1) / request.size();
    const std::string expected = bulk(std::string(65536, 'x'));
    std::size_t answered = 0;
    for (; answered < requests; ++answered) {
        while (!unsent.empty()) {
            const long n = slow.send_some(unsent);
            REQUIRE(n >= 0);
            if (n == 0) break;
            unsent.remove_prefix(static_cast<std::size_t>(n));
        }
        if (slow.reply() != expected) break;
    }
    CHECK(answered == requests);
    CHECK(s.executed().size() == requests);
}

TEST_CASE("idle clients are closed after client_timeout_ms, but not while a reply is pending") {
    ClientServerOptions options;
    options.client_timeout_ms = 300;
    TestServer s(options);
    RawClient idle(s.port());
    RawClient busy(s.port());
    RawClient waiting(s.port());
    const auto start = Clock::now();
    REQUIRE(waiting.send(command({"LATER", "800", "done"})));

    for (int i = 0; i < 12; ++i) {  // 600 ms of traffic every 50 ms keeps it open
        std::this_thread::sleep_for(50ms);
        REQUIRE(busy.send(command({"PING"})));
        REQUIRE(busy.reply() == "+PONG\r\n");
    }
    CHECK(idle.reply(2s) == "<eof>");
    CHECK(Clock::now() - start >= 300ms);
    CHECK(waiting.reply(2s) == bulk("done"));
    CHECK(s.stats().idle_timeout_disconnections >= 1);
}

TEST_CASE("stop_accepting refuses new clients and keeps serving the connected ones") {
    TestServer s;
    RawClient a(s.port());
    REQUIRE(a.send(command({"PING"})));
    REQUIRE(a.reply() == "+PONG\r\n");

    s.on_io([&] { s.server().stop_accepting(); });
    RawClient late(s.port());
    CHECK_FALSE(late.connected());
    REQUIRE(a.send(command({"PING"})));
    CHECK(a.reply() == "+PONG\r\n");

    s.on_io([&] { s.server().close_all(); });
    CHECK(a.reply() == "<eof>");
    CHECK(s.clients() == 0);
}

TEST_CASE("a reply completed after its client left is dropped quietly") {
    TestServer s;
    {
        RawClient c(s.port());
        REQUIRE(c.send(command({"LATER", "150", "late"})));
        REQUIRE(s.eventually([&] { return s.server().stats().total_commands_processed == 1; }));
    }
    REQUIRE(s.eventually([&] { return s.server().connected_clients() == 0; }));
    // The connection closed at once, not when its deferred reply completed.
    REQUIRE(s.eventually([&] { return !s.handler().late_alive.empty(); }));
    CHECK(s.late_alive() == std::vector<bool>{false});
    RawClient next(s.port());
    REQUIRE(next.send(command({"PING"})));
    CHECK(next.reply() == "+PONG\r\n");
}

TEST_CASE("a slot the handler drops answers an error and the replies after it still flow") {
    TestServer s;
    RawClient c(s.port());
    REQUIRE(c.send(command({"DROP"}) + command({"PING"})));
    CHECK(c.reply() == "-ERR internal error: the command's reply was dropped\r\n");
    CHECK(c.reply() == "+PONG\r\n");
}

TEST_CASE("stats count connections, commands and bytes in both directions") {
    TestServer s;
    RawClient c(s.port());
    const std::string requests = command({"ECHO", "hello"}) + command({"PING"});
    REQUIRE(c.send(requests));
    CHECK(c.reply() == bulk("hello"));
    CHECK(c.reply() == "+PONG\r\n");
    // The client may read the replies before the server's write completion has counted them.
    auto stats = s.stats();
    for (int i = 0; i < 200 && stats.total_net_output_bytes < c.received(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        stats = s.stats();
    }
    CHECK(stats.total_connections_received == 1);
    CHECK(stats.total_commands_processed == 2);
    CHECK(stats.total_net_input_bytes == requests.size());
    CHECK(stats.total_net_output_bytes == c.received());
    CHECK(stats.rejected_connections == 0);
}

TEST_CASE("for_each_client lists every connected client with its address and name") {
    TestServer s;
    RawClient a(s.port());
    RawClient b(s.port());
    REQUIRE(a.send(command({"SETNAME", "alpha"})));
    REQUIRE(a.reply() == "+OK\r\n");
    REQUIRE(b.send(command({"PING"})));
    REQUIRE(b.reply() == "+PONG\r\n");
    const auto clients = s.on_io([&] {
        std::vector<ClientState> out;
        s.server().for_each_client([&](const ClientState& c) { out.push_back(c); });
        return out;
    });
    REQUIRE(clients.size() == 2);
    CHECK(clients[0].id < clients[1].id);
    CHECK(clients[0].name == "alpha");
    CHECK(clients[1].name.empty());
    for (const ClientState& c : clients) {
        INFO(c.peer_address);
        CHECK(c.peer_address.rfind("127.0.0.1:", 0) == 0);
        CHECK(c.created_ms <= c.last_command_ms);
    }
}

TEST_CASE("client start names the address when it is already taken") {
    TestServer s;
    boost::asio::io_context io;
    FakeHandler handler(io);
    ClientServerOptions options;
    options.listen = "127.0.0.1:" + std::to_string(s.port());
    ClientServer second(io, options, handler, steady_ms);
    const auto started = second.start();
    REQUIRE_FALSE(started.has_value());
    CHECK_THAT(started.error(), Catch::Contains(options.listen) && Catch::Contains("in use"));
}

TEST_CASE("listen addresses are host:port with IPv6 hosts in brackets") {
    using meridian::node::listen_endpoint;
    const auto v4 = listen_endpoint("127.0.0.1:7001");
    REQUIRE(v4.has_value());
    CHECK(v4->address().to_string() == "127.0.0.1");
    CHECK(v4->port() == 7001);
    const auto v6 = listen_endpoint("[::1]:7002");
    REQUIRE(v6.has_value());
    CHECK(v6->address().to_string() == "::1");
    CHECK(v6->port() == 7002);
    const auto named = listen_endpoint("localhost:0");
    REQUIRE(named.has_value());
    CHECK(named->address().is_loopback());

    for (const char* bad :
         {"7001", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:70x", ":7001", "127.0.0.1:-1"}) {
        INFO(bad);
        const auto parsed = listen_endpoint(bad);
        REQUIRE_FALSE(parsed.has_value());
        CHECK_THAT(parsed.error(), Catch::Contains(bad));
    }
}
