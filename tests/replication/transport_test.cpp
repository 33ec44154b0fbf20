// The Asio peer transport on loopback: real sockets on ephemeral ports, two or more nodes in
// this process (a ReplicationCore over a SimStore each), all on one io_context, as in a node.
#include "replication/transport.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "crdt/pn_counter.hpp"
#include "crdt/value.hpp"
#include "sim_store.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;
using meridian::crdt::RegionId;
using meridian::replication::Action;
using meridian::replication::PeerTransport;
using meridian::replication::ReplicationCore;
using meridian::replication::TransportOptions;
using namespace std::chrono_literals;

std::uint64_t steady_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

// Runs the io_context until `done` holds or `limit` passes; false on timeout.
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds limit = 4000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        io.restart();
        io.run_for(2ms);
    }
    return true;
}

// Runs until `done`, or fails the test naming `what` and showing `state()` as it is then.
void eventually(asio::io_context& io, const std::string& what, const std::function<bool()>& done,
                const std::function<std::string()>& state,
                std::chrono::milliseconds limit = 4000ms) {
    if (!run_until(io, done, limit)) FAIL("timed out waiting until " << what << "\n" << state());
}

// Runs the io_context for `period`, whatever happens.
void run_for(asio::io_context& io, std::chrono::milliseconds period) {
    const auto deadline = std::chrono::steady_clock::now() + period;
    while (std::chrono::steady_clock::now() < deadline) {
        io.restart();
        io.run_for(2ms);
    }
}

TransportOptions fast_options() {
    TransportOptions options;
    options.listen = "127.0.0.1:0";
    options.reconnect_min_ms = 10;
    options.reconnect_max_ms = 100;
    options.connect_timeout_ms = 2000;
    return options;
}

// One region: its store outlives restarts of its core and transport (a durable log).
class TestNode {
public:
    TestNode(asio::io_context& io, RegionId region, std::vector<RegionId> peers,
             std::string secret = "the-cluster-secret")
        : io_(io), self_{region, 0}, peers_(std::move(peers)), secret_(std::move(secret)) {}
    ~TestNode() { stop(); }

    void start(TransportOptions options) {
        meridian::replication::CoreOptions core;
        core.self = self_;
        core.cluster = "transport-test";
        core.secret = secret_;
        core.fingerprint = 7;
        core.peers = peers_;
        core_ = std::make_unique<ReplicationCore>(core, store_, store_);
        transport_ = std::make_unique<PeerTransport>(
            io_, std::move(options), *core_, [this](Action& action) { apply(action); }, steady_ms);
        auto started = transport_->start();
        INFO("region " << self_.region << ": " << (started ? "" : started.error()));
        REQUIRE(started);
    }

    // The process goes away: sockets close, the core's state is lost, the store stays.
    void stop() {
        transport_.reset();
        core_.reset();
    }

    void add(const std::string& key, std::int64_t amount) {
        auto& value =
            store_.keyspace()
                .try_emplace(key, meridian::crdt::Value::empty(meridian::crdt::ValueType::counter))
                .first->second;
        auto delta = value.as<meridian::crdt::PnCounter>()->add(self_, amount);
        REQUIRE(delta);
        meridian::replication::LogRecord record;
        record.origin = self_;
        record.lo = record.hi = store_.version_vector().get(self_) + 1;
        record.deltas.push_back({key, meridian::crdt::Value(std::move(*delta))});
        const auto entry = store_.append(std::move(record), steady_ms());
        core_->on_appended(entry, steady_ms());
        transport_->drain();
    }

    std::int64_t counter(const std::string& key) const {
        auto it = store_.keyspace().find(key);
        return it == store_.keyspace().end() ? 0
                                             : it->second.as<meridian::crdt::PnCounter>()->value();
    }

    std::string describe(const std::vector<RegionId>& regions) const {
        std::string out = "region " + std::to_string(self_.region) + ":";
        if (!core_) return out + " stopped";
        for (RegionId peer : regions) {
            const auto status = core_->status(peer, steady_ms());
            const auto io = transport_->io(peer);
            out += " [peer " + std::to_string(peer) + " " + status.state + ", refused " +
                   std::to_string(status.stats.refused_handshakes) + ", core error '" +
                   status.stats.last_error + "', connects " + std::to_string(io.connects) +
                   ", failures " + std::to_string(io.connect_failures) + ", io error '" +
                   io.last_error + "']";
        }
        return out;
    }

    // How many of `origin`'s writes this region holds.
    std::uint64_t holds(RegionId origin) const {
        return store_.version_vector().get(meridian::crdt::ReplicaId{origin, 0});
    }

    ReplicationCore& core() { return *core_; }
    PeerTransport& transport() { return *transport_; }
    std::uint16_t port() const { return transport_->bound_port(); }
    std::string address() const { return "127.0.0.1:" + std::to_string(port()); }

private:
    // What the node layer does with the core's actions: join and log what peers send.
    void apply(Action& action) {
        using namespace meridian::replication;
        const std::uint64_t now = steady_ms();
        if (auto* records = std::get_if<ApplyRecords>(&action)) {
            for (LogRecord& record : records->records) {
                store_.join(record.deltas, now);
                core_->on_appended(store_.append(std::move(record), now), now);
            }
        } else if (auto* states = std::get_if<ApplyStates>(&action)) {
            store_.join(states->states, now);
            LogRecord record;
            record.kind = LogRecord::Kind::state;
            record.deltas = std::move(states->states);
            core_->on_appended(store_.append(std::move(record), now), now);
        } else if (auto* merge = std::get_if<MergeVersionVector>(&action)) {
            LogRecord record;
            record.kind = LogRecord::Kind::vv_merge;
            record.merged = merge->vv;
            core_->on_appended(store_.append(std::move(record), now), now);
        }
    }

    asio::io_context& io_;
    meridian::crdt::ReplicaId self_;
    std::vector<RegionId> peers_;
    std::string secret_;
    meridian::sim::SimStore store_;
    std::unique_ptr<ReplicationCore> core_;
    std::unique_ptr<PeerTransport> transport_;
};

// A client that is no Meridian node: connects, sends bytes, and records when the node hangs up.
class RawPeer {
public:
    RawPeer(asio::io_context& io, std::uint16_t port) : socket_(io) {
        socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }
    void send(const std::string& bytes) {
        asio::write(socket_, asio::buffer(bytes));
        read();
    }
    bool hung_up() const { return hung_up_; }

private:
    void read() {
        socket_.async_read_some(asio::buffer(buffer_),
                                [this](boost::system::error_code ec, std::size_t) {
                                    if (ec) {
                                        hung_up_ = true;
                                        return;
                                    }
                                    read();
                                });
    }

    tcp::socket socket_;
    std::array<char, 4096> buffer_{};
    bool hung_up_ = false;
};

// Test certificates: a cluster CA, leaves it signs, and a rogue CA nobody trusts.
class Pki {
public:
    Pki()
        : dir_(fs::temp_directory_path() /
               ("meridian-transport-test-" + std::to_string(std::random_device{}()))) {
        fs::create_directories(dir_);
    }
    ~Pki() {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    struct Identity {
        std::string cert_file, key_file;
    };

    // A self-signed CA named `name`, written to <name>.pem.
    std::string make_ca(const std::string& name) {
        auto& ca = cas_[name];
        ca.key.reset(EVP_EC_gen("P-256"));
        REQUIRE(ca.key);
        ca.cert.reset(make_cert(name, ca.key.get(), nullptr, ca.key.get(), true));
        return write_cert(name, ca.cert.get());
    }

    // A leaf for `name` signed by the CA `issuer`, good for TLS clients and servers.
    Identity make_leaf(const std::string& name, const std::string& issuer) {
        auto& ca = cas_.at(issuer);
        std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
        REQUIRE(key);
        std::unique_ptr<X509, decltype(&X509_free)> cert(
            make_cert(name, key.get(), ca.cert.get(), ca.key.get(), false), X509_free);
        Identity identity{write_cert(name, cert.get()), (dir_ / (name + ".key")).string()};
        FILE* out = std::fopen(identity.key_file.c_str(), "w");
        REQUIRE(out);
        REQUIRE(PEM_write_PrivateKey(out, key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1);
        std::fclose(out);
        return identity;
    }

private:
    struct Ca {
        std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{nullptr, EVP_PKEY_free};
        std::unique_ptr<X509, decltype(&X509_free)> cert{nullptr, X509_free};
    };

    X509* make_cert(const std::string& name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                    bool ca) {
        X509* cert = X509_new();
        REQUIRE(cert);
        X509_set_version(cert, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(cert), serial_++);
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
        X509_set_pubkey(cert, key);
        X509_NAME* subject = X509_get_subject_name(cert);
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
        X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : subject);
        X509V3_CTX ctx;
        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
        const std::vector<std::pair<int, const char*>> extensions =
            ca ? std::vector<std::pair<int, const char*>>{{NID_basic_constraints,
                                                           "critical,CA:TRUE"},
                                                          {NID_key_usage,
                                                           "critical,keyCertSign,cRLSign"}}
               : std::vector<std::pair<int, const char*>>{
                     {NID_basic_constraints, "CA:FALSE"},
                     {NID_ext_key_usage, "serverAuth,clientAuth"}};
        for (const auto& [nid, value] : extensions) {
            X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
            REQUIRE(extension);
            X509_add_ext(cert, extension, -1);
            X509_EXTENSION_free(extension);
        }
        REQUIRE(X509_sign(cert, issuer_key, EVP_sha256()) > 0);
        return cert;
    }

    std::string write_cert(const std::string& name, X509* cert) {
        const std::string path = (dir_ / (name + ".pem")).string();
        FILE* out = std::fopen(path.c_str(), "w");
        REQUIRE(out);
        REQUIRE(PEM_write_X509(out, cert) == 1);
        std::fclose(out);
        return path;
    }

    fs::path dir_;
    std::map<std::string, Ca> cas_;
    long serial_ = 1;
};

TransportOptions::Tls tls_for(const Pki::Identity& identity, const std::string& ca_file) {
    return TransportOptions::Tls{identity.cert_file, identity.key_file, ca_file};
}

// Region 1 (`a`) dials region 2 (`b`), both with fast_options().
void start_pair(TestNode& a, TestNode& b) {
    b.start(fast_options());
    auto dialing = fast_options();
    dialing.dial[2] = b.address();
    a.start(dialing);
}

}  // namespace

TEST_CASE("two regions connect over loopback and a write at either reaches the other",
          "[transport]") {
    asio::io_context io;
    TestNode a(io, 1, {2});
    TestNode b(io, 2, {1});
    start_pair(a, b);
    const auto state = [&] { return a.describe({2}) + "\n" + b.describe({1}); };

    eventually(
        io, "both sides are established",
        [&] { return a.core().established(2) && b.core().established(1); }, state);
    a.add("hits", 5);
    eventually(
        io, "region 2 holds region 1's write", [&] { return b.counter("hits") == 5; }, state);
    b.add("hits", 3);
    eventually(
        io, "region 1 holds region 2's write", [&] { return a.counter("hits") == 8; }, state);
    CHECK(b.counter("hits") == 8);

    const auto sent = a.transport().io(2);
    const auto received = b.transport().io(1);
    CHECK(sent.connects == 1);
    CHECK(received.connects == 1);
    CHECK(sent.connect_failures == 0);
    CHECK(sent.frames_sent >= 3);  // Hello, Auth, Records
    CHECK(received.frames_received >= 3);
    CHECK(sent.bytes_sent_wire > 0);
    CHECK(received.bytes_received_wire <= sent.bytes_sent_wire);
    CHECK(received.bytes_received_raw >= received.bytes_received_wire);
    CHECK(sent.last_error.empty());
}

TEST_CASE("a backlog larger than the read buffer crosses whole and compressed", "[transport]") {
    asio::io_context io;
    TestNode a(io, 1, {2});
    TestNode b(io, 2, {1});
    start_pair(a, b);
    // Written before the link comes up: it all crosses as catch-up. Random key names keep
    // the compressed frames larger than one 64 KiB read.
    constexpr int writes = 6000;
    std::mt19937_64 rng(writes);
    std::vector<std::string> keys;
    for (int i = 0; i < writes; ++i) {
        keys.push_back("key:" + std::to_string(rng()) + ":" + std::to_string(i));
        a.add(keys.back(), i % 7 + 1);
    }
    const auto state = [&] {
        return a.describe({2}) + "\n" + b.describe({1}) + "\nregion 2 holds " +
               std::to_string(b.holds(1)) + " of region 1's writes";
    };
    eventually(
        io, "region 2 holds the whole backlog", [&] { return b.holds(1) == writes; }, state);
    for (int i : {0, 1, writes / 2, writes - 1}) CHECK(b.counter(keys[i]) == i % 7 + 1);
    const auto received = b.transport().io(1);
    INFO("received " << received.bytes_received_raw << " raw bytes as "
                     << received.bytes_received_wire << " on the wire");
    CHECK(received.bytes_received_wire > 64 * 1024);
    CHECK(received.bytes_received_wire < received.bytes_received_raw);
}

TEST_CASE("a listen address that is taken or malformed fails the start with an error",
          "[transport]") {
    asio::io_context io;
    TestNode a(io, 1, {2});
    a.start(fast_options());
    auto options = fast_options();
    options.listen = a.address();
    PeerTransport second(
        io, options, a.core(), [](Action&) {}, steady_ms);
    auto started = second.start();
    REQUIRE_FALSE(started);
    INFO(started.error());
    CHECK(started.error().find("cannot listen") != std::string::npos);

    options.listen = "127.0.0.1";
    PeerTransport malformed(
        io, options, a.core(), [](Action&) {}, steady_ms);
    CHECK_FALSE(malformed.start());
}

TEST_CASE("a region whose transport restarts is redialed and catches up on what it missed",
          "[transport]") {
    asio::io_context io;
    TestNode a(io, 1, {2});
    TestNode b(io, 2, {1});
    b.start(fast_options());
    const std::string b_address = b.address();
    auto dialing = fast_options();
    dialing.dial[2] = b_address;
    a.start(dialing);
    const auto state = [&] { return a.describe({2}) + "\n" + b.describe({1}); };
    a.add("k", 1);
    eventually(
        io, "region 2 holds the first write", [&] { return b.counter("k") == 1; }, state);

    b.stop();  // the listener is gone, and so is the link
    eventually(
        io, "region 1 noticed and failed to redial twice",
        [&] { return !a.core().established(2) && a.transport().io(2).connect_failures >= 2; },
        state);
    CHECK_FALSE(a.transport().io(2).last_error.empty());
    a.add("k", 10);
    a.add("k", 100);

    auto again = fast_options();
    again.listen = b_address;
    b.start(again);
    eventually(
        io, "region 2 caught up", [&] { return b.counter("k") == 111; }, state);
    b.add("k", 1000);
    eventually(
        io, "region 1 holds the restarted region's write", [&] { return a.counter("k") == 1111; },
        state);
    CHECK(a.transport().io(2).connects == 2);
}

TEST_CASE("a peer without the cluster secret is refused, counted, and redialed with backoff",
          "[transport]") {
    asio::io_context io;
    TestNode a(io, 1, {2}, "not-the-secret");
    TestNode b(io, 2, {1});
    b.start(fast_options());
    auto dialing = fast_options();
    dialing.reconnect_min_ms = 20;
    dialing.reconnect_max_ms = 80;
    dialing.dial[2] = b.address();
    a.start(dialing);
    const auto state = [&] { return a.describe({2}) + "\n" + b.describe({1}); };

    eventually(
        io, "region 2 refused three handshakes",
        [&] {
            return b.core().status(1, steady_ms()).stats.refused_handshakes >= 3 &&
                   a.transport().io(2).connects >= 3;
        },
        state);
    CHECK(b.core().status(1, steady_ms()).stats.last_error.find("secret") != std::string::npos);

    // Without a backoff a loopback redial takes about a millisecond; with delays drawn from
    // [0, 80] ms a 400 ms window holds a handful of attempts, and at least two.
    const auto before = a.transport().io(2).connects;
    run_for(io, 400ms);
    const auto attempts = a.transport().io(2).connects - before;
    INFO("attempts in 400 ms: " << attempts << "\n" << state());
    CHECK(attempts >= 2);
    CHECK(attempts <= 40);
    CHECK_FALSE(a.core().established(2));
    CHECK_FALSE(b.core().established(1));
    CHECK(b.core().status(1, steady_ms()).stats.links_established == 0);
}

TEST_CASE("garbage on the peer port closes only that connection and the real peer is still served",
          "[transport]") {
    asio::io_context io;
    TestNode a(io, 1, {2});
    TestNode b(io, 2, {1});
    start_pair(a, b);
    const auto state = [&] { return a.describe({2}) + "\n" + b.describe({1}); };
    eventually(
        io, "both sides are established",
        [&] { return a.core().established(2) && b.core().established(1); }, state);

    // Not a frame at all: "GET " read as a length announces half a gigabyte.
    RawPeer http(io, b.port());
    http.send("GET / HTTP/1.1\r\nHost: meridian\r\n\r\n");
    eventually(
        io, "the node hung up on the HTTP client", [&] { return http.hung_up(); }, state);

    // A well-formed frame whose Hello payload is nonsense: the core refuses it.
    const auto refused_before = b.core().refused_unknown();
    RawPeer hello(io, b.port());
    hello.send(
        std::string("\x05\x00\x00\x00\x01\x00"
                    "abcde",
                    11));
    eventually(
        io, "the node hung up on the bad Hello", [&] { return hello.hung_up(); }, state);
    CHECK(b.core().refused_unknown() == refused_before + 1);

    CHECK(b.core().established(1));
    a.add("after-garbage", 7);
    eventually(
        io, "the real peer's write still arrives", [&] { return b.counter("after-garbage") == 7; },
        state);
    CHECK(a.transport().io(2).connects == 1);
}

TEST_CASE("mutual TLS links verified peers and refuses a peer without a valid certificate",
          "[transport][tls]") {
    Pki pki;
    const std::string ca = pki.make_ca("cluster-ca");
    pki.make_ca("rogue-ca");
    const auto a_id = pki.make_leaf("region-a", "cluster-ca");
    const auto b_id = pki.make_leaf("region-b", "cluster-ca");
    const auto rogue_id = pki.make_leaf("region-c", "rogue-ca");

    asio::io_context io;
    TestNode a(io, 1, {2, 3, 4});
    TestNode b(io, 2, {1, 3, 4});
    TestNode rogue(io, 3, {1, 2, 4});  // right secret, certificate from the wrong CA
    TestNode plain(io, 4, {1, 2, 3});  // right secret, no TLS at all
    auto listening = fast_options();
    listening.tls = tls_for(b_id, ca);
    b.start(listening);
    const auto state = [&] {
        return a.describe({2}) + "\n" + b.describe({1, 3, 4}) + "\n" + rogue.describe({2}) + "\n" +
               plain.describe({2}) + "\ninbound failures at region 2: " +
               std::to_string(b.transport().inbound_failures());
    };

    auto dialing = fast_options();
    dialing.dial[2] = b.address();
    dialing.tls = tls_for(a_id, ca);
    a.start(dialing);
    a.add("secure", 42);
    eventually(
        io, "the write crossed the TLS link", [&] { return b.counter("secure") == 42; }, state);
    CHECK(a.transport().io(2).connects == 1);

    auto rogue_dialing = fast_options();
    rogue_dialing.dial[2] = b.address();
    rogue_dialing.tls = tls_for(rogue_id, ca);
    rogue.start(rogue_dialing);
    auto plain_dialing = fast_options();
    plain_dialing.dial[2] = b.address();
    plain.start(plain_dialing);
    rogue.add("intruder", 1);
    plain.add("intruder", 1);

    eventually(
        io, "both intruders were refused twice",
        [&] {
            return rogue.transport().io(2).connect_failures >= 2 &&
                   plain.transport().io(2).connect_failures >= 2 &&
                   b.transport().inbound_failures() >= 4;
        },
        state);
    INFO(state());
    CHECK(rogue.transport().io(2).last_error.find("TLS") != std::string::npos);
    CHECK(b.core().status(3, steady_ms()).stats.links_established == 0);
    CHECK(b.core().status(4, steady_ms()).stats.links_established == 0);
    CHECK(b.counter("intruder") == 0);
    CHECK(b.core().established(1));
}

TEST_CASE("a TLS certificate that does not load fails the start with an error",
          "[transport][tls]") {
    asio::io_context io;
    meridian::sim::SimStore store;
    meridian::replication::CoreOptions core_options;
    core_options.self = {1, 0};
    core_options.peers = {2};
    ReplicationCore core(core_options, store, store);
    auto options = fast_options();
    options.tls = TransportOptions::Tls{"/nonexistent/cert.pem", "/nonexistent/key.pem",
                                        "/nonexistent/ca.pem"};
    PeerTransport transport(
        io, options, core, [](Action&) {}, steady_ms);
    auto started = transport.start();
    REQUIRE_FALSE(started);
    INFO(started.error());
    CHECK(started.error().find("/nonexistent/cert.pem") != std::string::npos);
    CHECK(transport.bound_port() == 0);
}
