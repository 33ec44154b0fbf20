#include "server.hpp"

#include <sys/socket.h>

#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "http_api.hpp"

namespace meridian::regional_app {

namespace {

namespace http = boost::beast::http;
using boost::system::error_code;

constexpr std::size_t max_body_bytes = 16 * 1024;  // {"amount": N} is a few bytes

// Beast's parse errors (as opposed to the socket's).
bool is_http_error(const error_code& ec) {
    const error_code http_kind = http::error::bad_target;
    return ec.category() == http_kind.category();
}

}  // namespace

Server::Server(boost::asio::ip::tcp::endpoint endpoint, LedgerConfig ledger, std::string region)
    : acceptor_(io_, endpoint), ledger_(std::move(ledger)), region_(std::move(region)) {}

Server::~Server() = default;

void Server::run() {
    boost::asio::signal_set signals(io_, SIGINT, SIGTERM);
    signals.async_wait([this](const error_code& ec, int) {
        if (!ec) stop();
    });
    accept();
    io_.run();

    // No accept runs any more: end every connection (a blocked read returns) and wait for it.
    {
        std::lock_guard lock(mutex_);
        for (Connection& c : connections_) ::shutdown(c.socket.native_handle(), SHUT_RDWR);
    }
    for (Connection& c : connections_) c.thread.join();
    connections_.clear();
    finished_.clear();
}

void Server::stop() {
    io_.stop();
}

void Server::accept() {
    acceptor_.async_accept([this](const error_code& ec, boost::asio::ip::tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted) return;
        // Join the threads of connections that ended since the last accept.
        std::list<std::list<Connection>::iterator> done;
        {
            std::lock_guard lock(mutex_);
            done.swap(finished_);
        }
        for (auto it : done) {
            it->thread.join();
            std::lock_guard lock(mutex_);
            connections_.erase(it);
        }
        if (!ec) {
            std::lock_guard lock(mutex_);
            auto it = connections_.insert(connections_.end(), Connection{std::move(socket), {}});
            it->thread = std::thread([this, it] {
                serve(*it);
                std::lock_guard done_lock(mutex_);
                finished_.push_back(it);
            });
        }
        accept();
    });
}

void Server::serve(Connection& connection) {
    Ledger ledger(ledger_);
    boost::beast::flat_buffer buffer;
    error_code ec;
    while (true) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_body_bytes);
        http::read(connection.socket, buffer, parser, ec);
        if (ec == http::error::end_of_stream) break;
        if (is_http_error(ec)) {
            // A request Beast could not parse (or too large): say so, then hang up.
            Response response(http::status::bad_request, 11);
            response.set(http::field::content_type, "application/json");
            response.body() = "{\"error\": \"malformed HTTP request\"}\n";
            response.keep_alive(false);
            response.prepare_payload();
            http::write(connection.socket, response, ec);
            break;
        }
        if (ec) break;
        Response response = handle_request(parser.get(), ledger, region_);
        http::write(connection.socket, response, ec);
        if (ec || !response.keep_alive()) break;
    }
    connection.socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
}

}  // namespace meridian::regional_app
