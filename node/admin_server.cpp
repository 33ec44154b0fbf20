#include "node/admin_server.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <optional>
#include <string_view>
#include <utility>

#include "node/client_server.hpp"  // open_listener

namespace meridian::node {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using boost::asio::ip::tcp;

namespace {

// Requests are a method, a path and a few headers: anything bigger is not an operator's tool.
constexpr std::size_t kMaxHeaderBytes = 8 * 1024;
constexpr std::size_t kMaxBodyBytes = 64 * 1024;
// A connection that sends no request, or does not take its response, for this long is closed,
// so idle or stuck scrapers cannot pile up.
constexpr std::chrono::seconds kIdleTimeout{30};
// More concurrent connections than a handful of scrapers and operators would ever open.
constexpr std::size_t kMaxSessions = 64;
constexpr std::chrono::milliseconds kAcceptRetryDelay{100};

constexpr std::string_view kMetricsType = "text/plain; version=0.0.4; charset=utf-8";
constexpr std::string_view kJsonType = "application/json";
constexpr std::string_view kHtmlType = "text/html; charset=utf-8";
constexpr std::string_view kTextType = "text/plain; charset=utf-8";

}  // namespace

// One HTTP/1.1 connection: read a request, write its response, repeat while keep-alive holds.
// Owns itself; touches the server's handlers only while open (the server closes it first).
class AdminSession : public std::enable_shared_from_this<AdminSession> {
public:
    AdminSession(tcp::socket socket, std::uint64_t id, const AdminHandlers& handlers,
                 std::function<void(std::uint64_t)> forget)
        : stream_(std::move(socket)),
          buffer_(kMaxHeaderBytes + kMaxBodyBytes),
          id_(id),
          handlers_(handlers),
          forget_(std::move(forget)) {}

    void start() { read_next(); }

    void close() {
        if (closed_) return;
        closed_ = true;
        boost::system::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.socket().close(ignored);
        forget_(id_);
    }

private:
    void read_next() {
        parser_.emplace();
        parser_->header_limit(kMaxHeaderBytes);
        parser_->body_limit(kMaxBodyBytes);
        stream_.expires_after(kIdleTimeout);
        http::async_read(stream_, buffer_, *parser_,
                         [self = shared_from_this()](const boost::system::error_code& ec,
                                                     std::size_t) { self->on_read(ec); });
    }

    void on_read(const boost::system::error_code& ec) {
        if (closed_) return;
        if (ec) {
            const auto reply = malformed_status(ec);
            if (reply) {
                prepare(*reply, kTextType, std::string(http::obsolete_reason(*reply)) + "\n", false,
                        11);
                send();
            } else {
                close();  // end of stream, timeout, reset
            }
            return;
        }
        const auto& request = parser_->get();
        route(request);
    }

    // The answer to a request that broke HTTP or our limits; nullopt when the peer simply went.
    static std::optional<http::status> malformed_status(const boost::system::error_code& ec) {
        if (ec.category() != http::make_error_code(http::error::bad_method).category()) {
            return std::nullopt;
        }
        if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
            return std::nullopt;
        }
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            return http::status::request_header_fields_too_large;
        }
        if (ec == http::error::body_limit) return http::status::payload_too_large;
        return http::status::bad_request;
    }

    void route(const http::request<http::string_body>& request) {
        std::string_view target(request.target().data(), request.target().size());
        const std::size_t question = target.find('?');
        const std::string_view query =
            question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
        target = target.substr(0, question);
        const std::function<std::string()>* render = nullptr;
        std::string_view content_type;
        if (target == "/" && handlers_.page) {
            render = &handlers_.page;
            content_type = kHtmlType;
        } else if (target == "/metrics" && handlers_.metrics) {
            render = &handlers_.metrics;
            content_type = kMetricsType;
        } else if (target == "/status" && handlers_.status) {
            render = &handlers_.status;
            content_type = kJsonType;
        }
        const bool keep_alive = request.keep_alive();
        const unsigned version = request.version();
        const bool feed = target == "/conflicts" && handlers_.conflicts;
        if (feed && request.method() == http::verb::get) {
            auto body = handlers_.conflicts(query);
            if (body) {
                prepare(http::status::ok, kJsonType, std::move(*body), keep_alive, version);
            } else {
                prepare(http::status::bad_request, kTextType, body.error() + "\n", keep_alive,
                        version);
            }
        } else if (!render && !feed) {
            prepare(http::status::not_found, kTextType, "not found\n", keep_alive, version);
        } else if (request.method() != http::verb::get) {
            prepare(http::status::method_not_allowed, kTextType, "method not allowed\n", keep_alive,
                    version);
            response_.set(http::field::allow, "GET");
        } else {
            prepare(http::status::ok, content_type, (*render)(), keep_alive, version);
        }
        send();
    }

    void prepare(http::status status, std::string_view content_type, std::string body,
                 bool keep_alive, unsigned version) {
        response_ = {};
        response_.result(status);
        response_.version(version);
        response_.set(http::field::server, "meridian");
        response_.set(http::field::content_type,
                      beast::string_view(content_type.data(), content_type.size()));
        response_.keep_alive(keep_alive);
        response_.body() = std::move(body);
        response_.prepare_payload();
    }

    void send() {
        stream_.expires_after(kIdleTimeout);
        http::async_write(stream_, response_,
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t) { self->on_write(ec); });
    }

    void on_write(const boost::system::error_code& ec) {
        if (closed_) return;
        if (ec || !response_.keep_alive()) {
            close();
            return;
        }
        read_next();
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    http::response<http::string_body> response_;
    std::uint64_t id_;
    const AdminHandlers& handlers_;
    std::function<void(std::uint64_t)> forget_;
    bool closed_ = false;
};

AdminServer::AdminServer(boost::asio::io_context& io, std::string listen, AdminHandlers handlers)
    : listen_(std::move(listen)), handlers_(std::move(handlers)), acceptor_(io), retry_timer_(io) {}

AdminServer::~AdminServer() {
    stop();
}

Expected<void, std::string> AdminServer::start() {
    if (auto opened = open_listener(acceptor_, listen_, "admin HTTP"); !opened)
        return unexpected(opened.error());
    accepting_ = true;
    accept_next();
    return {};
}

std::uint16_t AdminServer::bound_port() const {
    boost::system::error_code ec;
    const auto endpoint = acceptor_.local_endpoint(ec);
    return ec ? 0 : endpoint.port();
}

void AdminServer::stop() {
    accepting_ = false;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    auto sessions = std::move(sessions_);
    sessions_.clear();
    for (auto& entry : sessions) entry.second->close();
}

void AdminServer::accept_next() {
    acceptor_.async_accept([this, alive = std::weak_ptr<bool>(alive_)](
                               const boost::system::error_code& ec, tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted || alive.expired() || !accepting_) return;
        if (ec && ec != boost::asio::error::connection_aborted) {
            // EMFILE and the like: accepting again at once would spin on the same error.
            retry_timer_.expires_after(kAcceptRetryDelay);
            retry_timer_.async_wait([this, alive](const boost::system::error_code& wait_ec) {
                if (!wait_ec && !alive.expired() && accepting_) accept_next();
            });
            return;
        }
        if (!ec) {
            if (sessions_.size() >= kMaxSessions) {
                boost::system::error_code ignored;
                socket.close(ignored);
            } else {
                const std::uint64_t id = next_session_id_++;
                auto session = std::make_shared<AdminSession>(
                    std::move(socket), id, handlers_,
                    [this](std::uint64_t closed_id) { sessions_.erase(closed_id); });
                sessions_.emplace(id, session);
                session->start();
            }
        }
        accept_next();
    });
}

}  // namespace meridian::node
