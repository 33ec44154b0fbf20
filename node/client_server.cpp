#include "node/client_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <utility>

#include "node/client_connection.hpp"

namespace meridian::node {

namespace {

using boost::asio::ip::tcp;

constexpr std::string_view kMaxClientsReply = "-ERR max number of clients reached\r\n";
// After an accept error such as EMFILE, retrying at once would spin on the same error.
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

std::string format_endpoint(const tcp::endpoint& endpoint) {
    const auto address = endpoint.address();
    const std::string host =
        address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return host + ":" + std::to_string(endpoint.port());
}

// Idle clients are looked for this often: often enough that one is closed within a quarter of
// the timeout late, rarely enough to cost nothing with thousands of clients.
std::chrono::milliseconds idle_sweep_interval(std::uint32_t timeout_ms) {
    return std::chrono::milliseconds(std::clamp<std::uint32_t>(timeout_ms / 4, 10, 1000));
}

}  // namespace

Expected<tcp::endpoint, std::string> listen_endpoint(std::string_view host_port) {
    const auto bad = [&](std::string_view why) {
        return unexpected("bad listen address \"" + std::string(host_port) +
                          "\": " + std::string(why));
    };
    const std::size_t colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return bad("expected host:port");
    std::string_view host = host_port.substr(0, colon);
    const std::string_view port_text = host_port.substr(colon + 1);
    unsigned port = 0;
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
        port > 65535) {
        return bad("the port must be a number from 0 to 65535");
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    if (host.empty()) return bad("the host is empty");
    boost::system::error_code error;
    const auto address = boost::asio::ip::make_address(std::string(host), error);
    if (!error) return tcp::endpoint(address, static_cast<std::uint16_t>(port));

    boost::asio::io_context io;
    tcp::resolver resolver(io);
    const auto results =
        resolver.resolve(std::string(host), std::string(port_text), tcp::resolver::passive, error);
    if (error || results.empty()) {
        return bad("cannot resolve the host: " + (error ? error.message() : "no address"));
    }
    return results.begin()->endpoint();
}

Expected<void, std::string> open_listener(tcp::acceptor& acceptor, const std::string& host_port,
                                          std::string_view what) {
    auto endpoint = listen_endpoint(host_port);
    if (!endpoint) return unexpected(endpoint.error());
    const auto fail = [&](std::string_view step, const boost::system::error_code& ec) {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        return unexpected("cannot " + std::string(step) + " on " + host_port + " (" +
                          std::string(what) + "): " + ec.message());
    };
    boost::system::error_code ec;
    acceptor.open(endpoint->protocol(), ec);
    if (ec) return fail("open a socket", ec);
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (ec) return fail("set SO_REUSEADDR", ec);
    acceptor.bind(*endpoint, ec);
    if (ec) return fail("bind", ec);
    acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("listen", ec);
    return {};
}

ClientServer::ClientServer(boost::asio::io_context& io, ClientServerOptions options,
                           CommandHandler& handler, std::function<std::uint64_t()> now_ms)
    : options_(std::move(options)),
      now_ms_(std::move(now_ms)),
      acceptor_(io),
      accept_retry_timer_(io),
      idle_timer_(io) {
    context_ = std::make_unique<ConnectionContext>(
        ConnectionContext{options_, handler, now_ms_, stats_,
                          [this](std::uint64_t client_id) { connections_.erase(client_id); }});
}

ClientServer::~ClientServer() {
    close_all();
}

Expected<void, std::string> ClientServer::start() {
    if (auto opened = open_listener(acceptor_, options_.listen, "clients"); !opened)
        return unexpected(opened.error());
    accepting_ = true;
    accept_next();
    schedule_idle_sweep();
    return {};
}

std::uint16_t ClientServer::bound_port() const {
    boost::system::error_code ec;
    const auto endpoint = acceptor_.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void ClientServer::stop_accepting() {
    accepting_ = false;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    accept_retry_timer_.cancel();
}

void ClientServer::close_all() {
    stop_accepting();
    idle_timer_.cancel();
    // close() makes each connection erase itself; closing from a moved-out map keeps that safe.
    auto connections = std::move(connections_);
    connections_.clear();
    for (auto& entry : connections) entry.second->close();
}

void ClientServer::for_each_client(const std::function<void(const ClientState&)>& f) const {
    for (const auto& entry : connections_) f(entry.second->state());
}

void ClientServer::accept_next() {
    acceptor_.async_accept([this, alive = std::weak_ptr<bool>(alive_)](
                               const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted || alive.expired()) return;
        on_accept(ec, std::move(socket));
    });
}

void ClientServer::on_accept(const boost::system::error_code& ec, tcp::socket socket) {
    if (!accepting_) return;
    if (ec) {
        if (ec == boost::asio::error::connection_aborted) {  // the client gave up first
            accept_next();
            return;
        }
        spdlog::warn("client listener on {}: accept failed: {}; retrying", options_.listen,
                     ec.message());
        accept_retry_timer_.expires_after(kAcceptRetryDelay);
        accept_retry_timer_.async_wait(
            [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& wait_ec) {
                if (wait_ec || alive.expired() || !accepting_) return;
                accept_next();
            });
        return;
    }
    if (connections_.size() >= options_.max_clients) {
        ++stats_.rejected_connections;
        reject(socket);
        accept_next();
        return;
    }
    ++stats_.total_connections_received;
    boost::system::error_code option_ec;
    socket.set_option(tcp::no_delay(true), option_ec);
    ClientState state;
    state.id = next_client_id_++;
    const auto remote = socket.remote_endpoint(option_ec);
    state.peer_address = option_ec ? "?:0" : format_endpoint(remote);
    state.created_ms = state.last_command_ms = now_ms_();
    auto connection =
        std::make_shared<ClientConnection>(std::move(socket), std::move(state), *context_);
    connections_.emplace(connection->state().id, connection);
    connection->start();
    accept_next();
}

void ClientServer::reject(tcp::socket& socket) {
    // As Redis does: one best-effort write into the fresh socket's empty send buffer, never
    // blocking the io thread, then close.
    boost::system::error_code ignored;
    socket.non_blocking(true, ignored);
    socket.write_some(boost::asio::buffer(kMaxClientsReply), ignored);
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

void ClientServer::schedule_idle_sweep() {
    if (options_.client_timeout_ms == 0) return;
    idle_timer_.expires_after(idle_sweep_interval(options_.client_timeout_ms));
    idle_timer_.async_wait(
        [this, alive = std::weak_ptr<bool>(alive_)](const boost::system::error_code& ec) {
            if (ec || alive.expired()) return;
            close_idle_clients();
            schedule_idle_sweep();
        });
}

void ClientServer::close_idle_clients() {
    const std::uint64_t now = now_ms_();
    if (now < options_.client_timeout_ms) return;
    const std::uint64_t cutoff = now - options_.client_timeout_ms;
    std::vector<std::shared_ptr<ClientConnection>> idle;
    for (const auto& entry : connections_) {
        if (entry.second->idle_since(cutoff)) idle.push_back(entry.second);
    }
    for (const auto& connection : idle) {
        ++stats_.idle_timeout_disconnections;
        connection->close();
    }
}

}  // namespace meridian::node
