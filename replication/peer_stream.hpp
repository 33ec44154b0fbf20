// PeerStream: the byte stream under one peer link, a plain TCP socket or TLS over one, behind
// one interface so the link has a single code path for both. Internal to the peer transport;
// used on the node's io_context thread only.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "crdt/expected.hpp"

namespace meridian::replication {

class PeerStream {
public:
    using Tcp = boost::asio::ip::tcp::socket;
    using Tls = boost::asio::ssl::stream<Tcp>;
    using Role = boost::asio::ssl::stream_base::handshake_type;

    // TLS over `socket` when `tls` is set, plain TCP otherwise.
    PeerStream(Tcp socket, boost::asio::ssl::context* tls)
        : stream_(make(std::move(socket), tls)) {}

    bool tls() const { return stream_.index() == 1; }
    Tcp& tcp() { return tls() ? std::get<Tls>(stream_).next_layer() : std::get<Tcp>(stream_); }

    // The TLS handshake in `role`; on plain TCP it completes at once (posted, never inline).
    template <class Handler>
    void async_handshake(Role role, Handler&& handler) {
        if (auto* tls = std::get_if<Tls>(&stream_)) {
            tls->async_handshake(role, std::forward<Handler>(handler));
        } else {
            boost::asio::post(tcp().get_executor(), [h = std::forward<Handler>(handler)]() mutable {
                h(boost::system::error_code{});
            });
        }
    }

    template <class Buffer, class Handler>
    void async_read_some(const Buffer& buffer, Handler&& handler) {
        std::visit([&](auto& s) { s.async_read_some(buffer, std::forward<Handler>(handler)); },
                   stream_);
    }

    // Writes the whole buffer (boost::asio::async_write).
    template <class Buffer, class Handler>
    void async_write(const Buffer& buffer, Handler&& handler) {
        std::visit(
            [&](auto& s) { boost::asio::async_write(s, buffer, std::forward<Handler>(handler)); },
            stream_);
    }

    // Closes the socket without a TLS close_notify exchange: waiting for the peer's answer
    // could hang on a dead peer, and the replication protocol needs no clean TLS end.
    void close() {
        boost::system::error_code ignored;
        tcp().shutdown(Tcp::shutdown_both, ignored);
        tcp().close(ignored);
    }

private:
    static std::variant<Tcp, Tls> make(Tcp socket, boost::asio::ssl::context* tls) {
        if (tls) return std::variant<Tcp, Tls>(std::in_place_index<1>, std::move(socket), *tls);
        return std::variant<Tcp, Tls>(std::in_place_index<0>, std::move(socket));
    }

    std::variant<Tcp, Tls> stream_;
};

// A TLS 1.2+ context for mutual authentication: presents `cert_file` (PEM chain) and
// `key_file`, and requires the peer's certificate to chain to `ca_file`, in both roles.
// Called at start-up; an unreadable or mismatched file is an error value.
Expected<std::unique_ptr<boost::asio::ssl::context>, std::string> make_tls_context(
    const std::string& cert_file, const std::string& key_file, const std::string& ca_file);

// "connection refused", "certificate verify failed (SSL routines)", ...: for logs and last_error.
std::string describe_error(const boost::system::error_code& ec);

}  // namespace meridian::replication
