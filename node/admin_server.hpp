// The operators' HTTP server on `admin_listen` (Boost.Beast): GET /metrics (Prometheus text),
// GET /status (JSON), GET /conflicts (the conflict feed, JSON) and GET / (the status page, a
// static HTML page that polls /status), rendered
// by the node's callbacks at request time. Runs on the node's one io_context thread, like the
// callbacks it calls; construct, start and stop it on that thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"

namespace meridian::node {

class AdminSession;

struct AdminHandlers {
    std::function<std::string()> metrics;  // Prometheus text exposition; unset: 404
    std::function<std::string()> status;   // JSON; unset: 404
    std::function<std::string()> page;     // the HTML status page served at /; unset: 404
    // GET /conflicts: JSON for the URL's query string, or the reason it is refused (400); unset:
    // 404
    std::function<Expected<std::string, std::string>(std::string_view query)> conflicts;
};

class AdminServer {
public:
    AdminServer(boost::asio::io_context& io, std::string listen, AdminHandlers handlers);
    ~AdminServer();  // stop()
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    // Binds and listens on "host:port"; the error names the address and the reason.
    Expected<void, std::string> start();
    std::uint16_t bound_port() const;  // for tests that listen on port 0
    // Closes the listener and every connection.
    void stop();

    std::size_t open_connections() const { return sessions_.size(); }

private:
    void accept_next();

    std::string listen_;
    AdminHandlers handlers_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer retry_timer_;
    std::map<std::uint64_t, std::shared_ptr<AdminSession>> sessions_;
    std::uint64_t next_session_id_ = 1;
    bool accepting_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meridian::node
