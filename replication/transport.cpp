#include "replication/transport.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <charconv>
#include <random>

#include "replication/peer_link.hpp"
#include "replication/peer_stream.hpp"

namespace meridian::replication {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using std::chrono::milliseconds;

namespace {

struct HostPort {
    std::string host;
    std::string port;
};

// "host:port", "[v6]:port" or ":port" (every address); the port may be 0 only if `any_port`.
Expected<HostPort, std::string> split_host_port(const std::string& text, bool any_port) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return unexpected("'" + text + "' is not host:port");
    HostPort out{text.substr(0, colon), text.substr(colon + 1)};
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
        out.host = out.host.substr(1, out.host.size() - 2);
    unsigned port = 0;
    const char* end = out.port.data() + out.port.size();
    const auto parsed = std::from_chars(out.port.data(), end, port);
    if (out.port.empty() || parsed.ec != std::errc() || parsed.ptr != end || port > 65535 ||
        (port == 0 && !any_port))
        return unexpected("'" + text + "' has no valid port");
    return out;
}

void add(PeerIo& io, const PeerLink& link) {
    io.bytes_sent_raw += link.sent().raw_bytes;
    io.bytes_sent_wire += link.sent().wire_bytes;
    io.frames_sent += link.sent().frames;
    io.bytes_received_raw += link.received().raw_bytes;
    io.bytes_received_wire += link.received().wire_bytes;
    io.frames_received += link.received().frames;
}

}  // namespace

class PeerTransport::Impl : public std::enable_shared_from_this<Impl>, public PeerLink::Owner {
public:
    Impl(asio::io_context& io, TransportOptions options, ReplicationCore& core,
         std::function<void(Action&)> on_action, std::function<std::uint64_t()> now_ms)
        : io_(io),
          options_(std::move(options)),
          core_(core),
          on_action_(std::move(on_action)),
          now_ms_(std::move(now_ms)),
          acceptor_(io),
          accept_pause_(io),
          tick_timer_(io),
          rng_(std::random_device{}()) {}

    Expected<void, std::string> start();
    void stop();
    void drain();
    PeerIo io(crdt::RegionId peer) const;
    std::uint16_t bound_port() const;
    std::uint64_t inbound_failures() const { return inbound_failures_; }

    void link_ready(PeerLink& link) override;
    void link_frame(PeerLink& link, Frame frame) override;
    void link_drained(PeerLink& link) override;
    void link_failed(PeerLink& link, const std::string& why) override;

private:
    struct LinkEntry {
        std::shared_ptr<PeerLink> link;
        std::optional<crdt::RegionId> region;  // dialed, or named by PeerUp
        bool ready = false;                    // the core knows of it
    };

    // One outbound connection kept to one region. `attempt` changes whenever an attempt ends,
    // so late completions of an abandoned resolve, connect or timer recognise themselves.
    struct Dialer {
        Dialer(asio::io_context& io, crdt::RegionId r, HostPort a)
            : region(r), address(std::move(a)), resolver(io), timer(io) {}
        crdt::RegionId region;
        HostPort address;
        tcp::resolver resolver;
        asio::steady_timer timer;  // connect deadline, then the redial delay
        std::optional<tcp::socket> socket;
        std::optional<LinkId> link;
        std::uint32_t failures = 0;  // attempts since the last PeerUp, for the backoff
        std::uint64_t attempt = 0;
        std::string last_logged_error;
    };

    std::uint64_t now() const { return now_ms_(); }
    void accept();
    void arm_tick();
    void dial(Dialer& dialer);
    void connect(Dialer& dialer, const tcp::resolver::results_type& endpoints);
    void dial_failed(Dialer& dialer, const std::string& why);
    void redial_later(Dialer& dialer);
    void open_link(tcp::socket socket, PeerLink::Role role, std::optional<crdt::RegionId> region);
    void execute(Action& action);
    // Forgets a link, keeping its byte counts; returns its entry.
    LinkEntry retire(std::map<LinkId, LinkEntry>::iterator it);
    Dialer* dialer_of(const LinkEntry& entry, LinkId id);
    std::string describe_link(LinkId id, const LinkEntry& entry) const;

    asio::io_context& io_;
    TransportOptions options_;
    ReplicationCore& core_;
    std::function<void(Action&)> on_action_;
    std::function<std::uint64_t()> now_ms_;
    std::unique_ptr<asio::ssl::context> tls_;
    tcp::acceptor acceptor_;
    asio::steady_timer accept_pause_;
    asio::steady_timer tick_timer_;
    std::map<crdt::RegionId, std::unique_ptr<Dialer>> dialers_;
    std::map<LinkId, LinkEntry> links_;
    std::map<crdt::RegionId, PeerIo> totals_;  // counters, and the bytes of closed links
    LinkId next_link_ = 1;
    std::uint64_t inbound_failures_ = 0;
    bool started_ = false;
    bool stopped_ = false;
    bool draining_ = false;
    std::mt19937_64 rng_;
};

// ---- start and stop ----------------------------------------------------------

Expected<void, std::string> PeerTransport::Impl::start() {
    if (started_ || stopped_)
        return unexpected(std::string("the peer transport was started before"));
    started_ = true;

    // Everything is checked before anything is opened, so a failed start leaves nothing behind.
    auto listen = split_host_port(options_.listen, /*any_port=*/true);
    if (!listen) return unexpected("peer listen address: " + listen.error());
    for (const auto& [region, address] : options_.dial) {
        auto target = split_host_port(address, /*any_port=*/false);
        if (!target)
            return unexpected("address of region " + std::to_string(region) + ": " +
                              target.error());
        dialers_[region] = std::make_unique<Dialer>(io_, region, std::move(*target));
    }
    if (options_.tls) {
        auto context = make_tls_context(options_.tls->cert_file, options_.tls->key_file,
                                        options_.tls->ca_file);
        if (!context) return unexpected(context.error());
        tls_ = std::move(*context);
    }

    // The listen address is the node's own, usually numeric: resolving it inline at start-up
    // costs nothing and keeps start() a plain yes or no.
    error_code ec;
    tcp::resolver resolver(io_);
    const auto endpoints = resolver.resolve(listen->host.empty() ? "0.0.0.0" : listen->host,
                                            listen->port, tcp::resolver::passive, ec);
    if (ec || endpoints.empty())
        return unexpected("cannot resolve the peer listen address " + options_.listen + ": " +
                          describe_error(ec));
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        error_code ignored;
        acceptor_.close(ignored);
        return unexpected("cannot listen for peers on " + options_.listen + ": " +
                          describe_error(ec));
    }
    spdlog::info("replication: listening for peers on {}:{}{}", endpoint.address().to_string(),
                 bound_port(), tls_ ? " (mutual TLS)" : "");

    accept();
    for (auto& [region, dialer] : dialers_) dial(*dialer);
    arm_tick();
    return {};
}

void PeerTransport::Impl::stop() {
    if (stopped_) return;
    stopped_ = true;
    error_code ignored;
    acceptor_.close(ignored);
    accept_pause_.cancel();
    tick_timer_.cancel();
    for (auto& [region, dialer] : dialers_) {
        ++dialer->attempt;
        dialer->resolver.cancel();
        dialer->timer.cancel();
        if (dialer->socket) dialer->socket->close(ignored);
        dialer->socket.reset();
    }
    while (!links_.empty()) retire(links_.begin()).link->close();
}

// ---- the event loop's sources ---------------------------------------------------

void PeerTransport::Impl::accept() {
    acceptor_.async_accept([self = shared_from_this()](const error_code& ec, tcp::socket socket) {
        if (self->stopped_ || ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of descriptors and the like: pause instead of spinning on the error.
            spdlog::warn("replication: accepting a peer connection failed: {}", describe_error(ec));
            self->accept_pause_.expires_after(milliseconds(100));
            self->accept_pause_.async_wait([self](const error_code& wait) {
                if (!wait && !self->stopped_) self->accept();
            });
            return;
        }
        self->open_link(std::move(socket), PeerLink::Role::acceptor, std::nullopt);
        self->accept();
    });
}

void PeerTransport::Impl::arm_tick() {
    tick_timer_.expires_after(milliseconds(std::max<std::uint32_t>(options_.tick_ms, 1)));
    tick_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (self->stopped_ || ec == asio::error::operation_aborted) return;
        self->core_.on_tick(self->now());
        self->drain();
        self->arm_tick();
    });
}

// ---- dialing ---------------------------------------------------------------------

void PeerTransport::Impl::dial(Dialer& dialer) {
    if (stopped_) return;
    const std::uint64_t attempt = ++dialer.attempt;
    dialer.resolver.async_resolve(
        dialer.address.host, dialer.address.port,
        [self = shared_from_this(), &dialer, attempt](const error_code& ec,
                                                      const tcp::resolver::results_type& results) {
            if (self->stopped_ || attempt != dialer.attempt) return;
            if (ec)
                return self->dial_failed(
                    dialer, "cannot resolve " + dialer.address.host + ": " + describe_error(ec));
            self->connect(dialer, results);
        });
}

void PeerTransport::Impl::connect(Dialer& dialer, const tcp::resolver::results_type& endpoints) {
    const std::uint64_t attempt = dialer.attempt;
    dialer.socket.emplace(io_);
    dialer.timer.expires_after(milliseconds(options_.connect_timeout_ms));
    dialer.timer.async_wait([self = shared_from_this(), &dialer, attempt](const error_code& ec) {
        if (self->stopped_ || ec == asio::error::operation_aborted || attempt != dialer.attempt)
            return;
        self->dial_failed(dialer, "connect timed out after " +
                                      std::to_string(self->options_.connect_timeout_ms) + " ms");
    });
    asio::async_connect(
        *dialer.socket, endpoints,
        [self = shared_from_this(), &dialer, attempt](const error_code& ec, const tcp::endpoint&) {
            if (self->stopped_ || attempt != dialer.attempt) return;
            if (ec) {
                return self->dial_failed(dialer, "cannot connect to " + dialer.address.host + ":" +
                                                     dialer.address.port + ": " +
                                                     describe_error(ec));
            }
            dialer.timer.cancel();
            tcp::socket socket = std::move(*dialer.socket);
            dialer.socket.reset();
            self->open_link(std::move(socket), PeerLink::Role::dialer, dialer.region);
        });
}

void PeerTransport::Impl::dial_failed(Dialer& dialer, const std::string& why) {
    ++dialer.attempt;  // whatever else this attempt had pending is now stale
    if (dialer.socket) {
        error_code ignored;
        dialer.socket->close(ignored);
        dialer.socket.reset();
    }
    dialer.link.reset();
    PeerIo& totals = totals_[dialer.region];
    ++totals.connect_failures;
    totals.last_error = why;
    // A peer that stays down would log every few seconds; say it once until it changes.
    if (why != dialer.last_logged_error) {
        spdlog::warn("replication: dialing region {} failed: {}", dialer.region, why);
        dialer.last_logged_error = why;
    } else {
        spdlog::debug("replication: dialing region {} failed again: {}", dialer.region, why);
    }
    redial_later(dialer);
}

void PeerTransport::Impl::redial_later(Dialer& dialer) {
    // Capped exponential backoff with full jitter: regions that lost each other at the same
    // moment do not redial in lockstep.
    const std::uint64_t floor = std::max<std::uint32_t>(options_.reconnect_min_ms, 1);
    const std::uint64_t cap =
        std::min<std::uint64_t>(std::max(options_.reconnect_max_ms, options_.reconnect_min_ms),
                                floor << std::min<std::uint32_t>(dialer.failures, 20));
    ++dialer.failures;
    const std::uint64_t delay = std::uniform_int_distribution<std::uint64_t>(0, cap)(rng_);
    const std::uint64_t attempt = dialer.attempt;
    dialer.timer.expires_after(milliseconds(delay));
    dialer.timer.async_wait([self = shared_from_this(), &dialer, attempt](const error_code& ec) {
        if (self->stopped_ || ec == asio::error::operation_aborted || attempt != dialer.attempt)
            return;
        self->dial(dialer);
    });
}

PeerTransport::Impl::Dialer* PeerTransport::Impl::dialer_of(const LinkEntry& entry, LinkId id) {
    if (entry.link->role() != PeerLink::Role::dialer || !entry.region) return nullptr;
    auto it = dialers_.find(*entry.region);
    if (it == dialers_.end() || it->second->link != id) return nullptr;
    return it->second.get();
}

// ---- links -----------------------------------------------------------------------

void PeerTransport::Impl::open_link(tcp::socket socket, PeerLink::Role role,
                                    std::optional<crdt::RegionId> region) {
    error_code ec;
    // Replication lag on loopback is about a millisecond: Nagle would add tens.
    socket.set_option(tcp::no_delay(true), ec);
    if (ec)
        spdlog::warn("replication: cannot set TCP_NODELAY on a peer link: {}", describe_error(ec));
    const LinkId id = next_link_++;
    PeerLink::Options link_options;
    link_options.max_frame_bytes = options_.max_frame_bytes;
    link_options.compress_threshold = options_.compress_threshold;
    link_options.handshake_timeout = milliseconds(options_.connect_timeout_ms);
    auto link =
        std::make_shared<PeerLink>(id, std::move(socket), tls_.get(), role, link_options, *this);
    links_[id] = LinkEntry{link, region, false};
    if (region) dialers_.at(*region)->link = id;
    link->start();
}

void PeerTransport::Impl::link_ready(PeerLink& link) {
    auto it = links_.find(link.id());
    if (it == links_.end()) return;
    LinkEntry& entry = it->second;
    entry.ready = true;
    if (entry.link->role() == PeerLink::Role::dialer) {
        ++totals_[*entry.region].connects;
        spdlog::info("replication: connected to region {} at {} (link {})", *entry.region,
                     link.remote(), link.id());
        if (Dialer* dialer = dialer_of(entry, link.id())) dialer->last_logged_error.clear();
    } else {
        spdlog::debug("replication: accepted a peer connection from {} (link {})", link.remote(),
                      link.id());
    }
    core_.on_connected(link.id(),
                       entry.link->role() == PeerLink::Role::dialer ? entry.region : std::nullopt,
                       now());
    drain();
}

void PeerTransport::Impl::link_frame(PeerLink& link, Frame frame) {
    core_.on_frame(link.id(), frame.type, std::move(frame.payload), now());
    drain();
}

void PeerTransport::Impl::link_drained(PeerLink& link) {
    core_.on_drained(link.id(), now());
    drain();
}

void PeerTransport::Impl::link_failed(PeerLink& link, const std::string& why) {
    auto it = links_.find(link.id());
    if (it == links_.end()) return;
    Dialer* dialer = dialer_of(it->second, link.id());
    const std::string name = describe_link(link.id(), it->second);
    const LinkEntry entry = retire(it);
    if (!entry.ready) {
        // The TLS handshake failed or timed out: the core never saw this link.
        if (dialer) return dial_failed(*dialer, "link to " + link.remote() + ": " + why);
        ++inbound_failures_;
        spdlog::warn("replication: refused a peer connection from {}: {}", link.remote(), why);
        return;
    }
    if (dialer && entry.link->received().frames == 0) {
        // The peer never spoke the protocol: under TLS 1.3 a server refuses the client's
        // certificate only after the client's handshake completed, and a peer that is not a
        // Meridian node answers with anything but a frame. Either way the attempt failed.
        dial_failed(*dialer, "link to " + link.remote() + ": " + why);
    } else {
        spdlog::warn("replication: {} closed: {}", name, why);
        if (entry.region) totals_[*entry.region].last_error = why;
        if (dialer) {
            dialer->link.reset();
            redial_later(*dialer);
        }
    }
    if (link.refused_authentication()) {
        core_.on_frame_refused(link.id(), why, now());
    } else {
        core_.on_disconnected(link.id(), now());
    }
    drain();
}

PeerTransport::Impl::LinkEntry PeerTransport::Impl::retire(
    std::map<LinkId, LinkEntry>::iterator it) {
    LinkEntry entry = std::move(it->second);
    links_.erase(it);
    if (entry.region) add(totals_[*entry.region], *entry.link);
    return entry;
}

std::string PeerTransport::Impl::describe_link(LinkId id, const LinkEntry& entry) const {
    std::string text = "peer link " + std::to_string(id);
    if (entry.region) text += " to region " + std::to_string(*entry.region);
    text += entry.link->role() == PeerLink::Role::dialer ? " (dialed " : " (accepted from ";
    return text + entry.link->remote() + ")";
}

// ---- core actions ------------------------------------------------------------------

void PeerTransport::Impl::drain() {
    // Re-entry (an on_action that calls drain() after all) would reorder actions; the
    // outer loop picks up whatever was queued.
    if (draining_ || stopped_) return;
    draining_ = true;
    struct Reset {
        bool& flag;
        ~Reset() { flag = false; }
    } reset{draining_};
    for (;;) {
        std::vector<Action> actions = core_.take_actions();
        if (actions.empty()) return;
        for (Action& action : actions) {
            if (stopped_) return;  // on_action shut the node down
            execute(action);
        }
    }
}

void PeerTransport::Impl::execute(Action& action) {
    if (auto* send = std::get_if<SendFrame>(&action)) {
        auto it = links_.find(send->link);
        if (it != links_.end()) it->second.link->send(send->type, send->payload);
        return;
    }
    if (auto* authenticate = std::get_if<AuthenticateLink>(&action)) {
        auto it = links_.find(authenticate->link);
        if (it != links_.end()) it->second.link->authenticate(authenticate->keys);
        return;
    }
    if (auto* close = std::get_if<CloseLink>(&action)) {
        auto it = links_.find(close->link);
        if (it == links_.end()) return;
        Dialer* dialer = dialer_of(it->second, close->link);
        spdlog::warn("replication: closing {}: {}", describe_link(close->link, it->second),
                     close->reason);
        const LinkEntry entry = retire(it);
        // What the core queued before deciding to close (a last Ack) is worth delivering, but
        // a peer that does not read must not keep the socket.
        entry.link->close_after_flush(milliseconds(1000));
        if (dialer) {
            dialer->link.reset();
            redial_later(*dialer);
        }
        return;
    }
    if (auto* up = std::get_if<PeerUp>(&action)) {
        if (auto it = links_.find(up->link); it != links_.end()) {
            LinkEntry& entry = it->second;
            if (entry.link->role() == PeerLink::Role::acceptor && !entry.region)
                ++totals_[up->peer].connects;
            entry.region = up->peer;
            spdlog::info("replication: region {} is up on {}", up->peer,
                         describe_link(up->link, entry));
        }
        if (auto it = dialers_.find(up->peer); it != dialers_.end()) it->second->failures = 0;
    } else if (auto* down = std::get_if<PeerDown>(&action)) {
        spdlog::info("replication: region {} is down", down->peer);
    }
    if (on_action_) on_action_(action);
}

// ---- queries -------------------------------------------------------------------------

PeerIo PeerTransport::Impl::io(crdt::RegionId peer) const {
    PeerIo io;
    if (auto it = totals_.find(peer); it != totals_.end()) io = it->second;
    for (const auto& [id, entry] : links_)
        if (entry.region == peer) add(io, *entry.link);
    return io;
}

std::uint16_t PeerTransport::Impl::bound_port() const {
    error_code ec;
    const auto endpoint = acceptor_.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

// ---- the public face -------------------------------------------------------------------

PeerTransport::PeerTransport(asio::io_context& io, TransportOptions options, ReplicationCore& core,
                             std::function<void(Action&)> on_action,
                             std::function<std::uint64_t()> now_ms)
    : impl_(std::make_shared<Impl>(io, std::move(options), core, std::move(on_action),
                                   std::move(now_ms))) {}

PeerTransport::~PeerTransport() {
    impl_->stop();
}

Expected<void, std::string> PeerTransport::start() {
    return impl_->start();
}
void PeerTransport::stop() {
    impl_->stop();
}
void PeerTransport::drain() {
    impl_->drain();
}
PeerIo PeerTransport::io(crdt::RegionId peer) const {
    return impl_->io(peer);
}
std::uint16_t PeerTransport::bound_port() const {
    return impl_->bound_port();
}
std::uint64_t PeerTransport::inbound_failures() const {
    return impl_->inbound_failures();
}

}  // namespace meridian::replication
