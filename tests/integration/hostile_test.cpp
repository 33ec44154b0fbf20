// Hostile input against real meridian-node processes: garbage and oversized requests from
// clients, slow clients, connection floods, peers without the secret or replaying a captured
// handshake, frames that lie about their length or decompress to garbage, and damaged files at
// start-up. Each must end in a clear error or a refused connection, with the node serving
// everyone else and no acknowledged data lost.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crdt/hlc.hpp"
#include "crdt/serialization.hpp"
#include "crdt/value.hpp"
#include "integration/harness.hpp"
#include "node/peer_messages.hpp"
#include "replication/auth.hpp"
#include "replication/frame.hpp"
#include "replication/frame_mac.hpp"
#include "replication/log_record.hpp"
#include "replication/messages.hpp"

namespace {

namespace fs = std::filesystem;
namespace repl = meridian::replication;
using namespace meridian::test;
using Clock = std::chrono::steady_clock;

const std::string cluster_name = "meridian-test";
const std::string cluster_secret = "meridian-test-secret";

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    return addr;
}

// A plain TCP connection the test drives byte by byte.
class RawSocket {
public:
    static std::optional<RawSocket> try_connect(std::uint16_t port) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return std::nullopt;
        const sockaddr_in addr = loopback(port);
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd);
            return std::nullopt;
        }
        return RawSocket(fd);
    }
    static RawSocket connect(std::uint16_t port) {
        auto s = try_connect(port);
        if (!s) FAIL("connect to 127.0.0.1:" << port << ": " << std::strerror(errno));
        return std::move(*s);
    }
    RawSocket(RawSocket&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)),
          received_(std::move(other.received_)),
          closed_(other.closed_) {}
    RawSocket& operator=(RawSocket&&) = delete;
    ~RawSocket() {
        if (fd_ >= 0) ::close(fd_);
    }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    // Reads whatever arrives until `done()` holds, the peer closes, or timeout_ms passes.
    template <class Done>
    void read_until(Done done, int timeout_ms) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (!closed_ && !done()) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                    .count();
            if (left <= 0) return;
            pollfd p{fd_, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(left));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return;
            char buffer[16384];
            const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                closed_ = true;  // EOF or reset
                return;
            }
            received_.append(buffer, static_cast<std::size_t>(n));
        }
    }
    bool read_until_contains(const std::string& needle, int timeout_ms) {
        read_until([&] { return received_.find(needle) != std::string::npos; }, timeout_ms);
        return received_.find(needle) != std::string::npos;
    }
    // Whether the peer closed the connection within timeout_ms (data received meanwhile is kept).
    bool closed_by_peer(int timeout_ms) {
        read_until([] { return false; }, timeout_ms);
        return closed_;
    }
    std::string take_received() { return std::exchange(received_, {}); }
    const std::string& received() const { return received_; }
    bool closed() const { return closed_; }

private:
    explicit RawSocket(int fd) : fd_(fd) {}
    int fd_;
    std::string received_;
    bool closed_ = false;
};

std::string frame_header(std::uint32_t length, repl::FrameType type, std::uint8_t flags) {
    std::string h;
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>(length >> (8 * i)));
    h.push_back(static_cast<char>(type));
    h.push_back(static_cast<char>(flags));
    return h;
}

// Speaks the peer protocol over a RawSocket as the test tells it to.
class RawPeer {
public:
    explicit RawPeer(std::uint16_t port) : socket_(RawSocket::connect(port)) {}

    // The next whole frame, or empty (with `error` set when the stream was malformed).
    std::optional<repl::Frame> next_frame(int timeout_ms) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            auto next = decoder_.next();
            if (!next) {
                error = next.error();
                return std::nullopt;
            }
            if (*next) return std::move(**next);
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                    .count();
            if (left <= 0 || socket_.closed()) return std::nullopt;
            socket_.read_until([&] { return !socket_.received().empty(); }, static_cast<int>(left));
            decoder_.feed(socket_.take_received());
        }
    }
    void send(repl::FrameType type, std::string_view payload) {
        std::string wire;
        encoder_.encode(type, payload, wire);
        if (send_key_) ++tagged_sent_;
        socket_.send(wire);
    }
    void send_raw(std::string_view bytes) { socket_.send(bytes); }
    // A frame with whatever header and body the test wants, tagged as the next frame of this
    // peer's direction (after handshake()): a peer that knows the secret sending bad content.
    void send_tagged(std::uint8_t type, std::uint8_t flags, std::string_view body) {
        std::string wire =
            frame_header(static_cast<std::uint32_t>(body.size() + repl::frame_tag_bytes),
                         static_cast<repl::FrameType>(type), flags);
        repl::FrameMac mac(*send_key_);
        std::uint8_t tag[repl::frame_tag_bytes];
        mac.tag(tagged_sent_++, wire, body, tag);
        wire.append(body).append(reinterpret_cast<const char*>(tag), sizeof tag);
        socket_.send(wire);
    }

    // The node's Hello, then ours and our Auth as region `self`, with a proof under `secret`
    // and frames tagged under keys derived from `secret`.
    repl::Hello handshake(meridian::crdt::ReplicaId self, const std::string& secret) {
        auto frame = next_frame(5000);
        if (!frame || frame->type != repl::FrameType::hello)
            FAIL("the node sent no Hello: " << error);
        auto node_hello = repl::decode_hello(frame->payload);
        if (!node_hello) FAIL("the node's Hello does not decode: " << node_hello.error());
        repl::Hello hello;
        hello.cluster = cluster_name;
        hello.replica = self;
        hello.fingerprint = node_hello->fingerprint;
        hello.nonce = repl::random_nonce();
        const std::string own_hello = repl::encode(hello);
        send(repl::FrameType::hello, own_hello);
        const repl::LinkKeys keys = repl::derive_link_keys(secret, own_hello, frame->payload);
        encoder_.authenticate(keys.send);
        decoder_.authenticate(keys.receive);
        send_key_ = keys.send;
        repl::Auth auth;
        auth.proof =
            repl::hmac_sha256(secret, repl::proof_message(cluster_name, self, node_hello->replica,
                                                          hello.nonce, node_hello->nonce));
        send(repl::FrameType::auth, repl::encode(auth));
        return *node_hello;
    }

    RawSocket& socket() { return socket_; }
    std::string error;

private:
    RawSocket socket_;
    repl::FrameEncoder encoder_;
    repl::FrameDecoder decoder_;
    std::optional<repl::FrameKey> send_key_;
    std::uint64_t tagged_sent_ = 0;
};

// "region_<peer>:..." from the node's INFO replication, or "" if absent.
std::string peer_info(Cluster& cluster, const std::string& region, const std::string& peer) {
    const std::string info = cluster.client(region).command({"INFO", "replication"}).as_string();
    const std::string prefix = "region_" + peer + ":";
    const auto at = info.find(prefix);
    if (at == std::string::npos) return "";
    return info.substr(at, info.find("\r\n", at) - at);
}

long long info_field(const std::string& line, const std::string& field) {
    const auto at = line.find(field + "=");
    if (at == std::string::npos) return -1;
    return std::atoll(line.c_str() + at + field.size() + 1);
}

// The node's pid (data_dir/node.lock holds it) and its resident memory.
long resident_kb(const Cluster& cluster, const std::string& region) {
    std::ifstream lock(cluster.data_dir(region) + "/node.lock");
    long pid = 0;
    lock >> pid;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

// The node serves a fresh client: PING, and (if given) reads back `key` as `value`.
void require_serving(Cluster& cluster, const std::string& region, const std::string& key = {},
                     const std::string& value = {}) {
    auto client = cluster.client(region);
    REQUIRE(client.command({"PING"}) == Reply::string("PONG"));
    if (!key.empty()) REQUIRE(client.command({"GET", key}) == Reply::string(value));
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
    REQUIRE(out.flush());
}

std::vector<fs::path> files_with_extension(const std::string& dir, const std::string& ext) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.path().extension() == ext) out.push_back(entry.path());
    std::sort(out.begin(), out.end());
    return out;
}

// Forwards every connection it accepts to 127.0.0.1:target and records the bytes the first one
// sent towards the target: how the test captures what a real node says on the peer port.
class RecordingRelay {
public:
    explicit RecordingRelay(std::uint16_t target) : target_(target) {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        port_ = free_port();
        const sockaddr_in addr = loopback(port_);
        if (::bind(listener_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listener_, 8) != 0)
            FAIL("relay: cannot listen on " << port_ << ": " << std::strerror(errno));
        thread_ = std::thread([this] { serve(); });
    }
    ~RecordingRelay() {
        stop_ = true;
        thread_.join();
        ::close(listener_);
    }
    std::uint16_t port() const { return port_; }
    std::string recorded() {
        std::lock_guard lock(mutex_);
        return recorded_;
    }

private:
    void serve() {
        bool first = true;
        while (!stop_) {
            pollfd p{listener_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) continue;
            const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            const sockaddr_in addr = loopback(target_);
            if (::connect(upstream, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0)
                pump(client, upstream, first);
            first = false;
            ::close(upstream);
            ::close(client);
        }
    }
    void pump(int client, int upstream, bool record) {
        while (!stop_) {
            pollfd p[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
            if (::poll(p, 2, 50) <= 0) continue;
            char buffer[16384];
            for (int i = 0; i < 2; ++i) {
                if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                const ssize_t n = ::recv(p[i].fd, buffer, sizeof buffer, 0);
                if (n <= 0) return;
                if (i == 0 && record) {
                    std::lock_guard lock(mutex_);
                    recorded_.append(buffer, static_cast<std::size_t>(n));
                }
                if (::send(i == 0 ? upstream : client, buffer, static_cast<std::size_t>(n),
                           MSG_NOSIGNAL) != n)
                    return;
            }
        }
    }

    std::uint16_t target_;
    std::uint16_t port_ = 0;
    int listener_ = -1;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::string recorded_;
    std::thread thread_;
};

// The first `count` frames of a recorded byte stream (whole frames, as they were on the wire).
std::string first_frames(const std::string& stream, int count) {
    std::size_t at = 0;
    for (int i = 0; i < count; ++i) {
        if (stream.size() < at + repl::frame_header_bytes)
            FAIL("the recording holds fewer than " << count << " frames");
        std::uint32_t length = 0;
        for (int b = 0; b < 4; ++b)
            length |= std::uint32_t{static_cast<unsigned char>(stream[at + b])} << (8 * b);
        at += repl::frame_header_bytes + length;
    }
    if (at > stream.size()) FAIL("the recording ends inside frame " << count);
    return stream.substr(0, at);
}

}  // namespace

// ---- clients --------------------------------------------------------------------------------

TEST_CASE("a client sending garbage gets errors and the node keeps serving everyone else",
          "[hostile]") {
    Cluster cluster({"solo"}, "");
    cluster.start("solo");
    auto steady = cluster.client("solo");
    REQUIRE(steady.command({"SET", "kept", "safe"}) == Reply::string("OK"));

    const std::vector<std::string> malformed = {
        "*1\r\n$x\r\n",    "*abc\r\n",           "*2\r\n$3\r\nGET\r\n:5\r\n", "*1\r\n$-7\r\n",
        "$5\r\nhello\r\n", "*1\r\n$4\r\nPINGxx", "*-9\r\n*1\r\n+PING\r\n",    "\"unbalanced\r\n",
    };
    std::size_t answered_with_error = 0;
    for (const std::string& bytes : malformed) {
        INFO("sent: " << Reply::string(bytes).describe());
        RawSocket raw = RawSocket::connect(cluster.client_port("solo"));
        REQUIRE(raw.send(bytes));
        raw.read_until_contains("\r\n", 2000);
        if (raw.received().rfind("-ERR", 0) == 0) ++answered_with_error;
        CHECK((raw.received().rfind("-", 0) == 0 || raw.closed()));
        REQUIRE(steady.command({"PING"}) == Reply::string("PONG"));
    }
    CHECK(answered_with_error >= malformed.size() / 2);

    const std::uint64_t seed = std::random_device{}();
    INFO("random garbage seed " << seed);
    std::mt19937_64 rng(seed);
    for (int round = 0; round < 30; ++round) {
        std::string bytes(std::uniform_int_distribution<std::size_t>(1, 4096)(rng), '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        RawSocket raw = RawSocket::connect(cluster.client_port("solo"));
        raw.send(bytes);  // the node may close before taking it all
        raw.read_until([] { return false; }, 50);
        REQUIRE(steady.command({"PING"}) == Reply::string("PONG"));
    }
    require_serving(cluster, "solo", "kept", "safe");
}

TEST_CASE("a 1 GB bulk length is refused with an error and nothing is allocated for it",
          "[hostile]") {
    Cluster cluster({"solo"}, "");
    cluster.start("solo");
    auto steady = cluster.client("solo");
    REQUIRE(steady.command({"SET", "kept", "safe"}) == Reply::string("OK"));
    const long before_kb = resident_kb(cluster, "solo");

    for (const std::string& request :
         {std::string("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1073741824\r\n"),
          std::string("*2000000000\r\n$4\r\nPING\r\n")}) {
        INFO("sent: " << Reply::string(request).describe());
        RawSocket raw = RawSocket::connect(cluster.client_port("solo"));
        REQUIRE(raw.send(request));
        raw.send(std::string(64 * 1024, 'x'));  // the start of a body it must not wait for
        REQUIRE(raw.read_until_contains("\r\n", 3000));
        CHECK(raw.received().rfind("-ERR", 0) == 0);
        REQUIRE(steady.command({"PING"}) == Reply::string("PONG"));
    }
    const long after_kb = resident_kb(cluster, "solo");
    INFO("resident memory before " << before_kb << " kB, after " << after_kb << " kB");
    CHECK(after_kb - before_kb < 256 * 1024);
    CHECK(steady.command({"EXISTS", "big"}) == Reply::integer(0));
    require_serving(cluster, "solo", "kept", "safe");
}

TEST_CASE("a client that never finishes a command blocks nobody", "[hostile]") {
    Cluster cluster({"solo"}, "");
    cluster.start("solo");
    std::vector<RawSocket> stalled;
    for (int i = 0; i < 20; ++i) {
        stalled.push_back(RawSocket::connect(cluster.client_port("solo")));
        // Stops inside a bulk string: the node must hold it without waiting on it.
        REQUIRE(stalled.back().send("*3\r\n$3\r\nSET\r\n$5\r\nslow" + std::to_string(i % 10) +
                                    "\r\n$5\r\nab"));
    }
    auto fast = cluster.client("solo", 1000);
    const auto began = Clock::now();
    for (int i = 0; i < 300; ++i) {
        const std::string key = "fast:" + std::to_string(i);
        REQUIRE(fast.command({"SET", key, std::to_string(i)}) == Reply::string("OK"));
        REQUIRE(fast.command({"GET", key}) == Reply::string(std::to_string(i)));
    }
    const auto took_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - began).count();
    INFO("600 commands beside 20 stalled clients took " << took_ms << " ms");
    CHECK(took_ms < 10000);

    // A byte at a time, the stalled commands finish and are answered.
    for (const char c : std::string("cde\r\n")) {
        for (auto& s : stalled) REQUIRE(s.send(std::string(1, c)));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (auto& s : stalled) CHECK(s.read_until_contains("+OK\r\n", 3000));
    CHECK(fast.command({"GET", "slow3"}) == Reply::string("abcde"));
}

TEST_CASE("connections beyond max_clients get the max-clients error and the node keeps serving",
          "[hostile]") {
    rlimit limit{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
    limit.rlim_cur = limit.rlim_max;  // the node, started after this, inherits it
    ::setrlimit(RLIMIT_NOFILE, &limit);
    const int total =
        static_cast<int>(std::min<rlim_t>(3000, limit.rlim_cur > 400 ? limit.rlim_cur - 300 : 100));
    const int max_clients = total / 3;
    INFO(total << " connections against max_clients " << max_clients);
    Cluster cluster({"solo"}, "max_clients = " + std::to_string(max_clients) + "\n");
    cluster.start("solo");

    std::vector<RawSocket> sockets;
    sockets.reserve(static_cast<std::size_t>(total));
    for (int i = 0; i < total; ++i) {
        auto s = RawSocket::try_connect(cluster.client_port("solo"));
        REQUIRE(s);
        sockets.push_back(std::move(*s));
        sockets.back().send("PING\r\n");
    }
    int pongs = 0, refused = 0, silent = 0;
    for (auto& s : sockets) {
        s.read_until([&] { return s.received().find("\r\n") != std::string::npos; }, 5000);
        if (s.received() == "+PONG\r\n") {
            ++pongs;
        } else if (s.received().rfind("-ERR max number of clients reached", 0) == 0) {
            ++refused;
        } else {
            ++silent;
        }
    }
    INFO("pong " << pongs << ", refused " << refused << ", neither " << silent);
    CHECK(silent == 0);
    CHECK(pongs <= max_clients);
    CHECK(pongs >= max_clients - 5);
    CHECK(pongs + refused == total);

    // Accepted connections keep working; once some leave, newcomers are served again.
    int still_served = 0;
    for (auto& s : sockets) {
        if (s.closed() || s.received() != "+PONG\r\n" || still_served == 10) continue;
        s.take_received();
        REQUIRE(s.send("PING\r\n"));
        CHECK(s.read_until_contains("+PONG\r\n", 2000));
        ++still_served;
    }
    CHECK(still_served == 10);
    sockets.clear();
    CHECK(eventually(
        [&] { return cluster.client("solo").command({"PING"}) == Reply::string("PONG"); }, 5000));
}

// ---- peers ------------------------------------------------------------------------------------

TEST_CASE("a peer that does not know the secret is refused and counted", "[hostile]") {
    Cluster cluster({"a", "b"}, "");
    cluster.start("b");  // a (id 1) would dial b; the test plays a instead
    const std::uint16_t peer_port = cluster.spec("b").peer_port;

    SECTION("the right secret is accepted, so the raw peer itself is sound") {
        RawPeer peer(peer_port);
        peer.handshake({1, 0}, cluster_secret);
        CHECK(eventually(
            [&] { return info_field(peer_info(cluster, "b", "a"), "links_established") == 1; },
            5000));
        CHECK_FALSE(peer.socket().closed_by_peer(500));
    }
    SECTION("a wrong proof closes the link and counts a refused handshake") {
        RawPeer peer(peer_port);
        peer.handshake({1, 0}, "not-the-secret");
        CHECK(peer.socket().closed_by_peer(5000));
        const std::string line = peer_info(cluster, "b", "a");
        INFO(line);
        CHECK(info_field(line, "refused_handshakes") == 1);
        CHECK(info_field(line, "links_established") == 0);
        CHECK(line.find("authentication failed") != std::string::npos);
    }
    SECTION("a Hello from another cluster is refused before any region is trusted") {
        RawPeer peer(peer_port);
        REQUIRE(peer.next_frame(5000));
        repl::Hello hello;
        hello.cluster = "someone-else";
        hello.replica = {1, 0};
        peer.send(repl::FrameType::hello, repl::encode(hello));
        CHECK(peer.socket().closed_by_peer(5000));
        const std::string info = cluster.client("b").command({"INFO", "replication"}).as_string();
        CHECK(info.find("refused_handshakes_unknown:1") != std::string::npos);
    }
    require_serving(cluster, "b");
}

TEST_CASE("a peer of protocol version 1, whose frames carry no tags, is refused by name",
          "[hostile]") {
    Cluster cluster({"a", "b"}, "");
    cluster.start("b");
    RawPeer peer(cluster.spec("b").peer_port);
    auto frame = peer.next_frame(5000);
    REQUIRE(frame);
    auto node_hello = repl::decode_hello(frame->payload);
    REQUIRE(node_hello);
    CHECK(node_hello->version == repl::protocol_version);
    repl::Hello hello;
    hello.version = 1;
    hello.cluster = cluster_name;
    hello.replica = {1, 0};
    hello.fingerprint = node_hello->fingerprint;
    hello.nonce = repl::random_nonce();
    peer.send(repl::FrameType::hello, repl::encode(hello));
    CHECK(peer.socket().closed_by_peer(5000));
    const std::string line = peer_info(cluster, "b", "a");
    INFO(line);
    CHECK(info_field(line, "refused_handshakes") == 1);
    CHECK(line.find("peer speaks protocol version 1") != std::string::npos);
    CHECK(line.find("this node speaks " + std::to_string(repl::protocol_version)) !=
          std::string::npos);
    require_serving(cluster, "b");
}

TEST_CASE("a write injected into an authenticated link without the key is refused, not applied",
          "[hostile]") {
    Cluster cluster({"a", "b"}, "");
    cluster.start("b");
    RawPeer peer(cluster.spec("b").peer_port);
    peer.handshake({1, 0}, cluster_secret);
    REQUIRE(eventually(
        [&] { return info_field(peer_info(cluster, "b", "a"), "links_established") == 1; }, 5000));

    // A well-formed batch with one SET from region a, framed but tagged with a guessed tag.
    repl::LogRecord record;
    record.origin = {1, 0};
    record.lo = record.hi = 1;
    meridian::crdt::Register reg;
    record.deltas.push_back(repl::KeyDelta{
        "injected", meridian::crdt::Value(reg.assign({1, 0}, meridian::crdt::Hlc::from_parts(1, 0),
                                                     std::string("forged")))});
    const std::string batch = repl::encode_records({record});
    peer.send_raw(frame_header(static_cast<std::uint32_t>(batch.size() + repl::frame_tag_bytes),
                               repl::FrameType::records, 0) +
                  batch + std::string(repl::frame_tag_bytes, '\0'));
    CHECK(peer.socket().closed_by_peer(5000));
    const std::string line = peer_info(cluster, "b", "a");
    INFO(line);
    CHECK(info_field(line, "frames_refused") == 1);
    CHECK(line.find("records frame 1 failed authentication") != std::string::npos);
    CHECK(cluster.client("b").command({"GET", "injected"}) == Reply::nil());
    CHECK(cluster.client("b").command({"MERIDIAN", "VV"}).as_string().find("a.") ==
          std::string::npos);
    require_serving(cluster, "b");
}

TEST_CASE("a replayed handshake captured from a real node is refused", "[hostile]") {
    Cluster cluster({"a", "b"}, "");
    RecordingRelay relay(cluster.spec("b").peer_port);
    // a dials b: point a's view of b at the relay, which records what a sends.
    const std::string from =
        "peer_listen = \"127.0.0.1:" + std::to_string(cluster.spec("b").peer_port) + "\"";
    const std::string to = "peer_listen = \"127.0.0.1:" + std::to_string(relay.port()) + "\"";
    std::string config = read_file(cluster.config_path("a"));
    REQUIRE(config.find(from) != std::string::npos);
    config.replace(config.find(from), from.size(), to);
    write_file(cluster.config_path("a"), config);

    cluster.start("b");
    cluster.start("a");
    REQUIRE(eventually(
        [&] { return info_field(peer_info(cluster, "b", "a"), "links_established") >= 1; }, 10000));
    const std::string captured = first_frames(relay.recorded(), 2);  // a's Hello and Auth
    cluster.kill9("a");
    REQUIRE(eventually(
        [&] { return peer_info(cluster, "b", "a").find("state=connected") == std::string::npos; },
        10000));

    RawSocket replay = RawSocket::connect(cluster.spec("b").peer_port);
    REQUIRE(replay.send(captured));
    CHECK(replay.closed_by_peer(5000));
    const std::string line = peer_info(cluster, "b", "a");
    INFO(line);
    CHECK(info_field(line, "refused_handshakes") == 1);
    CHECK(info_field(line, "links_established") == 1);  // only the real one
    CHECK(line.find("authentication failed") != std::string::npos);
    require_serving(cluster, "b");
}

TEST_CASE("a frame claiming a huge length is refused before anything is allocated for it",
          "[hostile]") {
    Cluster cluster({"a", "b"}, "");
    cluster.start("b");
    REQUIRE(cluster.client("b").command({"SET", "kept", "safe"}) == Reply::string("OK"));
    const std::uint16_t peer_port = cluster.spec("b").peer_port;
    const long before_kb = resident_kb(cluster, "b");

    SECTION("before the handshake") {
        RawSocket raw = RawSocket::connect(peer_port);
        REQUIRE(raw.send(frame_header(0xFFFFFFF0u, repl::FrameType::hello, 0) +
                         std::string(4096, 'x')));
        CHECK(raw.closed_by_peer(5000));
    }
    SECTION("on an authenticated link") {
        RawPeer peer(peer_port);
        peer.handshake({1, 0}, cluster_secret);
        REQUIRE(eventually(
            [&] { return info_field(peer_info(cluster, "b", "a"), "links_established") == 1; },
            5000));
        peer.send_raw(frame_header(0x7FFFFFFFu, repl::FrameType::records, 0) +
                      std::string(4096, 'x'));
        CHECK(peer.socket().closed_by_peer(5000));
    }
    const long after_kb = resident_kb(cluster, "b");
    INFO("resident memory before " << before_kb << " kB, after " << after_kb << " kB");
    CHECK(after_kb - before_kb < 256 * 1024);
    require_serving(cluster, "b", "kept", "safe");
}

TEST_CASE(
    "a forwarded write routed by another epoch of its home is refused, and garbage home messages "
    "are ignored",
    "[hostile]") {
    Cluster cluster(
        {"a", "b"},
        "[[policy]]\nmatch = \"acct:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = \"{tag}\"\n");
    cluster.start("b");
    RawPeer peer(cluster.spec("b").peer_port);
    peer.handshake({1, 0}, cluster_secret);
    REQUIRE(eventually(
        [&] { return info_field(peer_info(cluster, "b", "a"), "links_established") == 1; }, 5000));
    // The answer to a Forward is a ForwardReply; whatever else the node sends is skipped.
    auto forward = [&](std::uint64_t counter, std::uint64_t epoch) -> std::string {
        meridian::node::ForwardRequest request{
            {{1, 0}, 42, counter}, {"INCRBY", "acct:{b}:1", "5"}, 2, epoch};
        peer.send(repl::FrameType::forward, meridian::node::encode(request));
        for (int i = 0; i < 50; ++i) {
            auto frame = peer.next_frame(5000);
            if (!frame) return "no answer: " + peer.error;
            if (frame->type != repl::FrameType::forward_reply) continue;
            auto reply = meridian::node::decode_forward_reply(frame->payload);
            return reply ? reply->reply : "undecodable: " + reply.error();
        }
        return "no ForwardReply";
    };
    CHECK(forward(1, 7) ==
          "-TRYAGAIN home b was routed by epoch 7, its owner is at epoch 0: the write was not "
          "applied\r\n");
    peer.send(repl::FrameType::homes, "\x05garbage");
    CHECK(forward(2, 0) == ":5\r\n");
    RedisClient b = cluster.client("b");
    CHECK(info_number(b, "fenced_writes") == 1);
    CHECK(b.command({"GET", "acct:{b}:1"}) == Reply::string("5"));
}

TEST_CASE("a frame whose LZ4 payload is garbage drops the link, not the node", "[hostile]") {
    Cluster cluster({"a", "b"}, "");
    cluster.start("b");
    REQUIRE(cluster.client("b").command({"SET", "kept", "safe"}) == Reply::string("OK"));
    const std::uint16_t peer_port = cluster.spec("b").peer_port;
    const std::uint64_t seed = std::random_device{}();
    INFO("garbage seed " << seed);
    std::mt19937_64 rng(seed);

    SECTION("a valid LZ4 block whose bytes are not a records batch") {
        // Repeated random bytes: compressible, so the encoder sends them as an LZ4 block.
        std::string garbage;
        do {
            std::string unit(48, '\0');
            for (char& c : unit) c = static_cast<char>(rng());
            garbage.clear();
            for (int i = 0; i < 40; ++i) garbage += unit;
        } while (repl::decode_records(garbage));
        RawPeer peer(peer_port);
        peer.handshake({1, 0}, cluster_secret);
        REQUIRE(eventually(
            [&] { return info_field(peer_info(cluster, "b", "a"), "links_established") == 1; },
            5000));
        peer.send(repl::FrameType::records, garbage);
        CHECK(peer.socket().closed_by_peer(5000));
        const std::string line = peer_info(cluster, "b", "a");
        INFO(line);
        CHECK(line.find("Records") != std::string::npos);
    }
    SECTION("a compressed payload that is not LZ4 at all") {
        RawPeer peer(peer_port);
        peer.handshake({1, 0}, cluster_secret);
        REQUIRE(eventually(
            [&] { return info_field(peer_info(cluster, "b", "a"), "links_established") == 1; },
            5000));
        std::string payload = "\xe8\x07";  // varint 1000: the raw length it claims
        for (int i = 0; i < 200; ++i) payload.push_back(static_cast<char>(rng()));
        peer.send_tagged(static_cast<std::uint8_t>(repl::FrameType::records),
                         repl::frame_flag_compressed, payload);
        CHECK(peer.socket().closed_by_peer(5000));
    }
    require_serving(cluster, "b", "kept", "safe");

    // A real peer still gets in and replicates both ways.
    cluster.start("a");
    REQUIRE(cluster.client("a").command({"SET", "from-a", "1"}) == Reply::string("OK"));
    CHECK(eventually(
        [&] {
            return cluster.client("b").command({"GET", "from-a"}) == Reply::string("1");
        },
        10000));
    CHECK(eventually(
        [&] {
            return cluster.client("a").command({"GET", "kept"}) == Reply::string("safe");
        },
        10000));
}

// ---- files --------------------------------------------------------------------------------------

TEST_CASE(
    "a WAL with a flipped byte stops the start, and a repaired node loses nothing its peer holds",
    "[hostile]") {
    Cluster cluster({"a", "b"}, "fsync = \"always\"\n");
    cluster.start_all();
    auto a = cluster.client("a");
    const int keys = 300;
    for (int i = 0; i < keys; ++i)
        REQUIRE(a.command({"SET", "wal:" + std::to_string(i), std::string(40, 'v')}) ==
                Reply::string("OK"));
    REQUIRE(eventually(
        [&] {
            return cluster.client("b")
                .command({"GET", "wal:" + std::to_string(keys - 1)})
                .is_string();
        },
        10000));
    cluster.kill9("a");

    const auto segments = files_with_extension(cluster.data_dir("a") + "/wal", ".wal");
    REQUIRE(!segments.empty());
    std::string bytes = read_file(segments.front().string());
    const std::size_t flip_at = bytes.size() / 2;  // inside the records, far from the tail
    bytes[flip_at] = static_cast<char>(bytes[flip_at] ^ 0x5a);
    write_file(segments.front().string(), bytes);

    const auto [status, output] = run_node(
        {"--config", cluster.config_path("a"), "--region", "a", "--log-level", "warn"}, 15000);
    INFO(output);
    CHECK(status == 1);
    CHECK(output.find(segments.front().filename().string()) != std::string::npos);
    CHECK(output.find("offset") != std::string::npos);

    // Repaired while its peer is away, it takes new writes; once the peer is back both must hold
    // everything: the lost records come back from b, and the new writes must not reuse the
    // sequence numbers of the lost ones (b already holds those and would drop them as duplicates).
    REQUIRE(cluster.terminate("b") == 0);
    cluster.start("a", {"--repair-wal"});
    a = cluster.client("a");
    for (int i = 0; i < 50; ++i)
        REQUIRE(a.command({"SET", "after:" + std::to_string(i), "new"}) == Reply::string("OK"));
    cluster.start("b");
    auto holds_everything = [&](const std::string& region) {
        auto c = cluster.client(region);
        for (int i = 0; i < keys; ++i)
            if (!c.command({"GET", "wal:" + std::to_string(i)}).is_string()) return false;
        for (int i = 0; i < 50; ++i)
            if (c.command({"GET", "after:" + std::to_string(i)}) != Reply::string("new"))
                return false;
        return true;
    };
    CHECK(eventually([&] { return holds_everything("a"); }, 20000));
    CHECK(eventually([&] { return holds_everything("b"); }, 20000));
    INFO("a: " << cluster.client("a").command({"MERIDIAN", "VV"}).describe() << ", b: "
               << cluster.client("b").command({"MERIDIAN", "VV"}).describe() << "\nlog of a:\n"
               << cluster.log_tail("a"));
    CHECK(cluster.client("a").command({"MERIDIAN", "VV"}) ==
          cluster.client("b").command({"MERIDIAN", "VV"}));
}

TEST_CASE("a truncated snapshot at start-up is skipped or refused, never silently loses data",
          "[hostile]") {
    // Large segments keep the whole WAL; small ones let snapshots collect it.
    const std::string segment_bytes = GENERATE(std::string("67108864"), std::string("4096"));
    INFO("wal_segment_bytes " << segment_bytes);
    Cluster cluster({"solo"},
                    "fsync = \"always\"\nsnapshot_every_records = 100\nsnapshot_every_seconds = 1\n"
                    "wal_segment_bytes = " +
                        segment_bytes + "\n");
    cluster.start("solo");
    auto client = cluster.client("solo");
    const int keys = 400;
    for (int i = 0; i < keys; ++i)
        REQUIRE(client.command({"SET", "snap:" + std::to_string(i), std::to_string(i)}) ==
                Reply::string("OK"));
    const std::string snapshot_dir = cluster.data_dir("solo") + "/snapshot";
    REQUIRE(
        eventually([&] { return files_with_extension(snapshot_dir, ".snap").size() >= 1; }, 10000));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(1500));  // let a snapshot in progress finish
    cluster.kill9("solo");

    const auto snapshots = files_with_extension(snapshot_dir, ".snap");
    REQUIRE(!snapshots.empty());
    const fs::path newest = snapshots.back();
    fs::resize_file(newest, fs::file_size(newest) / 2);

    auto started = cluster.try_start("solo");
    if (started) {
        auto c = cluster.client("solo");
        for (int i = 0; i < keys; ++i) {
            INFO("key snap:" << i << " after starting past a truncated "
                             << newest.filename().string());
            REQUIRE(c.command({"GET", "snap:" + std::to_string(i)}) ==
                    Reply::string(std::to_string(i)));
        }
        CHECK(cluster.log_tail("solo", 20000).find("damaged") != std::string::npos);
    } else {
        INFO(started.error());
        // Refused: the message must say why (the damaged snapshot, the records it lacks).
        CHECK((started.error().find("snapshot") != std::string::npos ||
               started.error().find("missing") != std::string::npos));
    }
}
