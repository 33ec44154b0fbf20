// PeerLink: one peer connection of the transport. After the TLS handshake (when configured) it
// reads frames through its FrameDecoder and writes them through its FrameEncoder, with one
// write in flight and the rest queued. It keeps itself alive (shared_from_this) while an
// operation is pending, and reports to its Owner; everything on the node's io_context thread.
#pragma once

#include <array>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "replication/core.hpp"
#include "replication/frame.hpp"
#include "replication/peer_stream.hpp"

namespace meridian::replication {

class PeerLink : public std::enable_shared_from_this<PeerLink> {
public:
    // The transport. No call comes after the link was closed by close() or
    // close_after_flush(), so the owner may forget the link then.
    class Owner {
    public:
        // The stream is ready for frames (TLS handshake done).
        virtual void link_ready(PeerLink& link) = 0;
        virtual void link_frame(PeerLink& link, Frame frame) = 0;
        // The write queue became empty after a write completed.
        virtual void link_drained(PeerLink& link) = 0;
        // The link is gone: the peer closed it, an I/O error, a malformed frame, or a failed
        // or late handshake (then before link_ready). Called once; the socket is closed.
        virtual void link_failed(PeerLink& link, const std::string& why) = 0;

    protected:
        ~Owner() = default;
    };

    struct Options {
        std::size_t max_frame_bytes = 256u << 20;
        std::size_t compress_threshold = 64;
        std::chrono::milliseconds handshake_timeout{5000};
    };
    enum class Role { dialer, acceptor };

    // `tls` null: plain TCP. The link must be started before anything else.
    PeerLink(LinkId id, boost::asio::ip::tcp::socket socket, boost::asio::ssl::context* tls,
             Role role, Options options, Owner& owner);

    void start();
    // Queues a frame; a payload over max_frame_bytes fails the link (asynchronously).
    void send(FrameType type, std::string_view payload);
    // Tags what is sent from now on and checks the peer's frames after its Hello (the core's
    // AuthenticateLink action).
    void authenticate(const LinkKeys& keys);
    // Whether the link failed because a frame's authentication tag was wrong.
    bool refused_authentication() const { return decoder_.failed_authentication(); }
    // Closes now; no more Owner calls.
    void close();
    // Stops reading and closes once what is queued is written, or after `grace`; no more
    // Owner calls.
    void close_after_flush(std::chrono::milliseconds grace);

    LinkId id() const { return id_; }
    Role role() const { return role_; }
    const std::string& remote() const { return remote_; }  // "host:port" of the peer
    const FrameStats& sent() const { return encoder_.stats(); }
    const FrameStats& received() const { return decoder_.stats(); }

private:
    enum class State { handshaking, open, closing, closed };

    void on_handshake(const boost::system::error_code& ec);
    void read();
    void on_read(const boost::system::error_code& ec, std::size_t bytes);
    void write();
    void on_write(const boost::system::error_code& ec);
    void fail(const std::string& why);

    LinkId id_;
    Role role_;
    Options options_;
    Owner& owner_;
    PeerStream stream_;
    boost::asio::steady_timer deadline_;  // handshake, then the flush grace period
    std::string remote_;
    State state_ = State::handshaking;
    FrameEncoder encoder_;
    FrameDecoder decoder_;
    std::string queued_;   // encoded frames waiting for the write in flight
    std::string writing_;  // the write in flight
    bool write_in_flight_ = false;
    bool owner_closed_ = false;  // close() or close_after_flush() was called: no more Owner calls
    std::array<char, 64 * 1024> read_buffer_;
};

}  // namespace meridian::replication
