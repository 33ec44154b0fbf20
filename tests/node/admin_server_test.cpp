#include "node/admin_server.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "node/prometheus.hpp"
#include "node/run_on.hpp"

using meridian::node::AdminHandlers;
using meridian::node::AdminServer;
using meridian::node::PrometheusText;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kStatus = R"({"region":"us-east","peers":[]})";
constexpr std::string_view kPage = "<!doctype html><title>status</title>";

std::string lower(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

// An admin server on 127.0.0.1:0 whose io_context runs on a background thread. /metrics counts
// how often it was rendered, so a test can see that each scrape renders afresh.
class TestAdmin {
public:
    TestAdmin() : server_(io_, "127.0.0.1:0", handlers()) {
        auto started = server_.start();
        if (!started) FAIL(started.error());
        port_ = server_.bound_port();
        thread_ = std::thread([this] { io_.run(); });
    }

    ~TestAdmin() {
        on_io([this] { server_.stop(); });
        io_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return port_; }

    template <class F>
    auto on_io(F f) -> decltype(f()) {
        return meridian::node::testing::run_on(io_, std::move(f));
    }

    AdminServer& server() { return server_; }

    static std::string metrics_page(int scrape) {
        PrometheusText t;
        t.counter("meridian_scrapes_total", "Times /metrics was rendered.", {}, scrape);
        return t.str();
    }

private:
    AdminHandlers handlers() {
        // /conflicts echoes its query string, and refuses "bad".
        return {
            [this] { return metrics_page(++scrapes_); }, [] { return std::string(kStatus); },
            [] { return std::string(kPage); },
            [](std::string_view query) -> meridian::Expected<std::string, std::string> {
                if (query == "bad")
                    return meridian::unexpected(std::string("COUNT must be a positive integer"));
                return "{\"query\":\"" + std::string(query) + "\"}";
            }};
    }

    boost::asio::io_context io_;
    int scrapes_ = 0;
    AdminServer server_;
    std::uint16_t port_ = 0;
    // Keeps run() going when no socket or timer is busy, so on_io works after close_all().
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
        boost::asio::make_work_guard(io_);
    std::thread thread_;
};

struct Response {
    int status = 0;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;

    std::string header(const std::string& name) const {
        const auto it = headers.find(name);
        return it == headers.end() ? "<absent>" : it->second;
    }
};

// An HTTP/1.1 client over a plain POSIX socket with poll()-bounded reads.
class RawHttp {
public:
    explicit RawHttp(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    }
    ~RawHttp() { ::close(fd_); }
    RawHttp(const RawHttp&) = delete;
    RawHttp& operator=(const RawHttp&) = delete;

    bool connected() const { return connected_; }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    std::optional<Response> get(std::string_view path) {
        if (!send("GET " + std::string(path) + " HTTP/1.1\r\nHost: test\r\n\r\n")) {
            return std::nullopt;
        }
        return response();
    }

    // The next response; nullopt when the connection closed or nothing came in time.
    std::optional<Response> response(std::chrono::milliseconds timeout = 5s) {
        const auto deadline = Clock::now() + timeout;
        std::size_t head_end;
        while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(deadline)) return std::nullopt;
        }
        Response r;
        const std::string head = buffer_.substr(0, head_end + 2);
        buffer_.erase(0, head_end + 4);
        std::size_t line_end = head.find("\r\n");
        const std::string status_line = head.substr(0, line_end);  // HTTP/1.1 200 OK
        if (status_line.size() < 12) return std::nullopt;
        r.status = std::stoi(status_line.substr(9, 3));
        for (std::size_t pos = line_end + 2; pos < head.size(); pos = line_end + 2) {
            line_end = head.find("\r\n", pos);
            const std::string line = head.substr(pos, line_end - pos);
            const std::size_t colon = line.find(':');
            if (colon == std::string::npos) return std::nullopt;
            std::string value = line.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            r.headers[lower(line.substr(0, colon))] = value;
        }
        const std::size_t length = std::stoul(r.header("content-length"));
        while (buffer_.size() < length) {
            if (!fill(deadline)) return std::nullopt;
        }
        r.body = buffer_.substr(0, length);
        buffer_.erase(0, length);
        return r;
    }

    // True when the server closed the connection within the timeout.
    bool closed_by_server(std::chrono::milliseconds timeout = 5s) {
        const auto deadline = Clock::now() + timeout;
        while (fill(deadline)) {
        }
        return eof_;
    }

private:
    bool fill(Clock::time_point deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char chunk[16 * 1024];
        const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
    std::string buffer_;
};

}  // namespace

TEST_CASE("GET /metrics answers the Prometheus text, rendered for each scrape") {
    TestAdmin admin;
    RawHttp http(admin.port());
    for (int scrape = 1; scrape <= 2; ++scrape) {
        const auto r = http.get("/metrics");
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
        CHECK(r->body == TestAdmin::metrics_page(scrape));
    }
}

TEST_CASE("GET /status answers JSON, also with a query string") {
    TestAdmin admin;
    RawHttp http(admin.port());
    for (const char* path : {"/status", "/status?pretty=1"}) {
        INFO(path);
        const auto r = http.get(path);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->header("content-type") == "application/json");
        CHECK(r->body == kStatus);
    }
}

TEST_CASE(
    "GET /conflicts hands its query string over, and answers 400 with the reason it is refused") {
    TestAdmin admin;
    RawHttp http(admin.port());
    const auto r = http.get("/conflicts?count=5&match=a%2A");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "application/json");
    CHECK(r->body == "{\"query\":\"count=5&match=a%2A\"}");
    const auto bare = http.get("/conflicts");
    REQUIRE(bare.has_value());
    CHECK(bare->body == "{\"query\":\"\"}");
    const auto refused = http.get("/conflicts?bad");
    REQUIRE(refused.has_value());
    CHECK(refused->status == 400);
    CHECK(refused->body == "COUNT must be a positive integer\n");
}

TEST_CASE("GET / answers the status page as HTML, and only / does") {
    TestAdmin admin;
    RawHttp http(admin.port());
    const auto r = http.get("/");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "text/html; charset=utf-8");
    CHECK(r->body == kPage);
    const auto other = http.get("/index.html");
    REQUIRE(other.has_value());
    CHECK(other->status == 404);
}

TEST_CASE("unknown paths answer 404 and other methods 405, on a connection that stays open") {
    TestAdmin admin;
    RawHttp http(admin.port());
    const auto missing = http.get("/nope");
    REQUIRE(missing.has_value());
    CHECK(missing->status == 404);

    REQUIRE(http.send("POST /metrics HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello"));
    const auto post = http.response();
    REQUIRE(post.has_value());
    CHECK(post->status == 405);
    CHECK(post->header("allow") == "GET");

    REQUIRE(http.send("DELETE /status HTTP/1.1\r\nHost: test\r\n\r\n"));
    const auto del = http.response();
    REQUIRE(del.has_value());
    CHECK(del->status == 405);

    const auto status = http.get("/status");
    REQUIRE(status.has_value());
    CHECK(status->status == 200);
}

TEST_CASE("a request asking to close gets its response and then the close") {
    TestAdmin admin;
    RawHttp http(admin.port());
    REQUIRE(http.send("GET /status HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"));
    const auto r = http.response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(http.closed_by_server());
}

TEST_CASE("a malformed request gets 400 and closes only its own connection") {
    TestAdmin admin;
    RawHttp bystander(admin.port());
    REQUIRE(bystander.get("/status").has_value());

    RawHttp broken(admin.port());
    REQUIRE(broken.send("GET /status HTTP/1.1\r\nHost test\r\n\r\n"));
    const auto r = broken.response();
    REQUIRE(r.has_value());
    CHECK(r->status == 400);
    CHECK(broken.closed_by_server());

    RawHttp garbage(admin.port());
    REQUIRE(garbage.send("\x16\x03\x01 not http at all\r\n\r\n"));
    CHECK(garbage.closed_by_server());

    const auto still = bystander.get("/metrics");
    REQUIRE(still.has_value());
    CHECK(still->status == 200);
}

TEST_CASE("requests beyond the size bounds are refused and closed") {
    TestAdmin admin;
    RawHttp headers(admin.port());
    REQUIRE(headers.send("GET /status HTTP/1.1\r\nHost: test\r\nX-Big: " + std::string(20000, 'a') +
                         "\r\n\r\n"));
    const auto r = headers.response();
    REQUIRE(r.has_value());
    CHECK(r->status == 431);
    CHECK(headers.closed_by_server());

    RawHttp body(admin.port());
    REQUIRE(body.send("POST /status HTTP/1.1\r\nHost: test\r\nContent-Length: 1000000\r\n\r\n"));
    const auto big = body.response();
    REQUIRE(big.has_value());
    CHECK(big->status == 413);
    CHECK(body.closed_by_server());
}

TEST_CASE("stop closes the listener and every open connection") {
    TestAdmin admin;
    RawHttp open(admin.port());
    REQUIRE(open.get("/status").has_value());
    admin.on_io([&] { admin.server().stop(); });
    CHECK(open.closed_by_server());
    RawHttp late(admin.port());
    CHECK_FALSE(late.connected());
    CHECK(admin.on_io([&] { return admin.server().open_connections(); }) == 0);
}

TEST_CASE("admin start names the address when it is already taken") {
    TestAdmin admin;
    boost::asio::io_context io;
    const std::string listen = "127.0.0.1:" + std::to_string(admin.port());
    AdminServer second(io, listen, {});
    const auto started = second.start();
    REQUIRE_FALSE(started.has_value());
    CHECK_THAT(started.error(), Catch::Contains(listen) && Catch::Contains("in use"));
}
