#include "replication/peer_link.hpp"

#include <boost/asio/ssl/error.hpp>

namespace meridian::replication {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

std::string remote_of(asio::ip::tcp::socket& socket) {
    error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    if (ec) return "(unknown address)";
    const auto address = endpoint.address();
    const std::string host =
        address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
    return host + ":" + std::to_string(endpoint.port());
}

bool closed_by_peer(const error_code& ec) {
    return ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ||
           ec == asio::error::connection_reset;
}

}  // namespace

PeerLink::PeerLink(LinkId id, asio::ip::tcp::socket socket, asio::ssl::context* tls, Role role,
                   Options options, Owner& owner)
    : id_(id),
      role_(role),
      options_(options),
      owner_(owner),
      stream_(std::move(socket), tls),
      deadline_(stream_.tcp().get_executor()),
      remote_(remote_of(stream_.tcp())),
      encoder_(FrameEncoder::Options{options.compress_threshold, options.max_frame_bytes}),
      decoder_(FrameDecoder::Options{options.max_frame_bytes}) {}

void PeerLink::start() {
    auto self = shared_from_this();
    if (stream_.tls()) {
        // A peer that connects and never speaks must not hold the link (and the dialer) forever.
        deadline_.expires_after(options_.handshake_timeout);
        deadline_.async_wait([self](const error_code& ec) {
            if (ec == asio::error::operation_aborted || self->state_ != State::handshaking) return;
            self->fail("TLS handshake not completed within " +
                       std::to_string(self->options_.handshake_timeout.count()) + " ms");
        });
    }
    const auto role =
        role_ == Role::dialer ? asio::ssl::stream_base::client : asio::ssl::stream_base::server;
    stream_.async_handshake(role, [self](const error_code& ec) { self->on_handshake(ec); });
}

void PeerLink::on_handshake(const error_code& ec) {
    if (state_ != State::handshaking) return;
    if (ec) return fail(describe_error(ec));
    deadline_.cancel();
    state_ = State::open;
    owner_.link_ready(*this);
    if (state_ == State::open) read();
}

void PeerLink::read() {
    stream_.async_read_some(asio::buffer(read_buffer_),
                            [self = shared_from_this()](const error_code& ec, std::size_t bytes) {
                                self->on_read(ec, bytes);
                            });
}

void PeerLink::on_read(const error_code& ec, std::size_t bytes) {
    if (state_ != State::open) return;  // closing: what the peer still sends is not wanted
    if (ec) {
        return fail(closed_by_peer(ec) ? "the peer closed the connection" : describe_error(ec));
    }
    decoder_.feed(std::string_view(read_buffer_.data(), bytes));
    for (;;) {
        auto frame = decoder_.next();
        if (!frame) {
            return fail(
                (decoder_.failed_authentication() ? "frame refused: " : "malformed frame: ") +
                frame.error());
        }
        if (!*frame) break;
        owner_.link_frame(*this, std::move(**frame));
        if (state_ != State::open) return;  // the frame made the core close the link
    }
    read();
}

void PeerLink::send(FrameType type, std::string_view payload) {
    if (state_ != State::open) return;
    if (payload.size() > options_.max_frame_bytes) {
        // The peer's decoder would refuse it; dropping the frame silently would leave a hole in
        // the stream. Report from a handler of our own, not from inside the owner's call.
        const std::string why = std::string(describe(type)) + " frame of " +
                                std::to_string(payload.size()) + " bytes is over the " +
                                std::to_string(options_.max_frame_bytes) + "-byte frame limit";
        state_ = State::closed;
        deadline_.cancel();
        stream_.close();
        asio::post(deadline_.get_executor(), [self = shared_from_this(), why] {
            if (!self->owner_closed_) self->owner_.link_failed(*self, why);
        });
        return;
    }
    encoder_.encode(type, payload, queued_);
    if (!write_in_flight_) write();
}

void PeerLink::authenticate(const LinkKeys& keys) {
    encoder_.authenticate(keys.send);
    decoder_.authenticate(keys.receive);
}

void PeerLink::write() {
    writing_.swap(queued_);
    queued_.clear();
    write_in_flight_ = true;
    stream_.async_write(
        asio::buffer(writing_),
        [self = shared_from_this()](const error_code& ec, std::size_t) { self->on_write(ec); });
}

void PeerLink::on_write(const error_code& ec) {
    write_in_flight_ = false;
    if (state_ == State::closed) return;
    if (ec) return fail(closed_by_peer(ec) ? "the peer closed the connection" : describe_error(ec));
    writing_.clear();
    // A full-sync chunk can be large; do not keep its buffer for the life of the link.
    if (writing_.capacity() > (1u << 20)) writing_.shrink_to_fit();
    if (!queued_.empty()) return write();
    if (state_ == State::closing) return close();
    owner_.link_drained(*this);
}

void PeerLink::close() {
    owner_closed_ = true;
    if (state_ == State::closed) return;
    state_ = State::closed;
    deadline_.cancel();
    stream_.close();
}

void PeerLink::close_after_flush(std::chrono::milliseconds grace) {
    owner_closed_ = true;
    if (state_ != State::open || !write_in_flight_) return close();
    state_ = State::closing;
    deadline_.expires_after(grace);
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (ec == asio::error::operation_aborted) return;
        if (self->state_ == State::closing) self->close();
    });
}

void PeerLink::fail(const std::string& why) {
    if (state_ == State::closed) return;
    state_ = State::closed;
    deadline_.cancel();
    stream_.close();
    if (!owner_closed_) owner_.link_failed(*this, why);
}

}  // namespace meridian::replication
