#include "node/client_connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/write.hpp>
#include <cassert>
#include <utility>

#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

// A client whose unwritten replies pass this is not read from until they drain, so a pipeline
// that outruns its reader cannot grow the server's memory without bound.
constexpr std::size_t kPauseReadingBytes = 1u << 20;
// A write buffer that grew past this for one large reply is given back rather than kept.
constexpr std::size_t kKeepBufferBytes = 1u << 20;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c != b[i]) return false;
    }
    return true;
}

// The commands that reach the handler before AUTH succeeded (as in Redis).
bool allowed_before_auth(std::string_view command) {
    return equals_ignoring_case(command, "auth") || equals_ignoring_case(command, "hello") ||
           equals_ignoring_case(command, "quit");
}

void release_if_large(std::string& buffer) {
    buffer.clear();
    if (buffer.capacity() > kKeepBufferBytes) std::string().swap(buffer);
}

}  // namespace

// ---------------------------------------------------------------------------
// ReplySlot

ReplySlot::ReplySlot(std::weak_ptr<ClientConnection> connection, std::uint64_t seq)
    : connection_(std::move(connection)), seq_(seq), pending_(true) {}

ReplySlot ReplySlot::callback(std::function<void(std::string)> deliver) {
    ReplySlot slot;
    slot.pending_ = true;
    slot.deliver_ = std::move(deliver);
    return slot;
}

ReplySlot::ReplySlot(ReplySlot&& other) noexcept
    : connection_(std::move(other.connection_)),
      seq_(other.seq_),
      pending_(std::exchange(other.pending_, false)),
      deliver_(std::move(other.deliver_)) {}

ReplySlot& ReplySlot::operator=(ReplySlot&& other) noexcept {
    if (this != &other) {
        if (pending_) complete("-ERR internal error: the command's reply was dropped\r\n");
        connection_ = std::move(other.connection_);
        seq_ = other.seq_;
        pending_ = std::exchange(other.pending_, false);
        deliver_ = std::move(other.deliver_);
    }
    return *this;
}

ReplySlot::~ReplySlot() {
    // A handler that loses a slot is a bug, but a stuck reply stream would hide it from everyone
    // but the client; an error reply keeps the stream moving and names the problem.
    if (pending_) complete("-ERR internal error: the command's reply was dropped\r\n");
}

void ReplySlot::complete(std::string resp_bytes) {
    assert(pending_ && "a reply slot completed twice");
    if (!pending_) return;
    pending_ = false;
    if (deliver_) {
        auto deliver = std::move(deliver_);
        deliver_ = nullptr;
        return deliver(std::move(resp_bytes));
    }
    if (const auto connection = connection_.lock()) {
        connection->complete(seq_, std::move(resp_bytes));
    }
    connection_.reset();
}

bool ReplySlot::client_alive() const {
    if (deliver_) return true;
    const auto connection = connection_.lock();
    return connection && !connection->closed_;
}

// ---------------------------------------------------------------------------
// ClientConnection

ClientConnection::ClientConnection(boost::asio::ip::tcp::socket socket, ClientState state,
                                   ConnectionContext& context)
    : socket_(std::move(socket)),
      state_(std::move(state)),
      context_(context),
      parser_(context.options.limits),
      last_input_ms_(state_.created_ms) {}

void ClientConnection::start() {
    read_next();
}

void ClientConnection::close() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    held_.clear();
    held_bytes_ = 0;
    std::string().swap(out_);
    // writing_ stays: the aborted write may still reference it until its handler runs.
    context_.forget(state_.id);
}

bool ClientConnection::idle_since(std::uint64_t cutoff_ms) const {
    return !closed_ && !replies_outstanding() && last_input_ms_ < cutoff_ms;
}

void ClientConnection::read_next() {
    if (reading_ || closing_ || closed_) return;
    if (pending_output() > kPauseReadingBytes) return;  // on_write resumes
    reading_ = true;
    socket_.async_read_some(boost::asio::buffer(read_buffer_),
                            [self = shared_from_this()](const boost::system::error_code& ec,
                                                        std::size_t n) { self->on_read(ec, n); });
}

void ClientConnection::on_read(const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (closed_) return;
    if (ec == boost::asio::error::eof && !replies_outstanding()) {
        // A client that sends its requests and shuts its side (`printf ... | nc -N`) still
        // gets the replies already made; the connection closes once they are written. One
        // with a deferred reply outstanding is closed now, as Redis does: a client that went
        // away looks the same, and must not pin a WAIT or a forward until it completes.
        closing_ = true;
        write_next();
        return;
    }
    if (ec) {
        close();
        return;
    }
    context_.stats.total_net_input_bytes += n;
    const std::uint64_t now = context_.now_ms();
    last_input_ms_ = now;
    run_requests(std::string_view(read_buffer_.data(), n), now);
    if (closed_) return;
    write_next();
    read_next();
}

void ClientConnection::run_requests(std::string_view input, std::uint64_t now) {
    in_batch_ = true;
    bool executed = false;
    while (!input.empty() && !closing_ && !closed_) {
        const RespParser::Step step = parser_.parse(input);
        input.remove_prefix(step.consumed);
        if (step.status == RespParser::Status::incomplete) break;
        if (step.status == RespParser::Status::protocol_error) {
            ++context_.stats.protocol_errors;
            reply_now(parser_.error());
            closing_ = true;
            break;
        }
        if (!parser_.limit_error().empty()) {
            ++context_.stats.limit_errors;
            reply_now(parser_.limit_error());
            continue;
        }
        std::vector<std::string>& args = parser_.args();
        if (args.empty()) continue;
        if (!context_.options.requirepass.empty() && !state_.authenticated &&
            !allowed_before_auth(args[0])) {
            ++context_.stats.noauth_rejections;
            reply_now("NOAUTH Authentication required.");
            continue;
        }
        dispatch(args, now);
        executed = true;
    }
    // Even when a command closed this client, the records the batch appended must be written.
    if (executed) context_.handler.after_batch();
    in_batch_ = false;
}

void ClientConnection::dispatch(std::vector<std::string>& args, std::uint64_t now) {
    ++context_.stats.total_commands_processed;
    state_.last_command_ms = now;
    context_.handler.execute(state_, args, ReplySlot(weak_from_this(), next_seq_++));
    if (state_.close_after_reply) closing_ = true;
}

void ClientConnection::reply_now(std::string_view error_line) {
    std::string bytes;
    resp::error(bytes, error_line);
    complete(next_seq_++, std::move(bytes));
}

void ClientConnection::complete(std::uint64_t seq, std::string bytes) {
    if (closed_) return;
    assert(seq >= head_seq_ && seq < next_seq_);
    if (seq == head_seq_) {
        out_.append(bytes);
        ++head_seq_;
        if (!held_.empty()) {
            held_.pop_front();  // the entry that stood for this reply
            while (!held_.empty() && held_.front()) {
                held_bytes_ -= held_.front()->size();
                out_.append(*held_.front());
                held_.pop_front();
                ++head_seq_;
            }
        }
    } else {
        const std::size_t index = seq - head_seq_;
        if (held_.size() <= index) held_.resize(index + 1);
        held_bytes_ += bytes.size();
        held_[index] = std::move(bytes);
    }
    if (pending_output() > context_.options.max_pending_output) {
        ++context_.stats.client_output_buffer_limit_disconnections;
        close();
        return;
    }
    if (!in_batch_) write_next();  // a batch writes once, after all its requests ran
}

void ClientConnection::write_next() {
    if (closed_ || write_in_flight_) return;
    if (out_.empty()) {
        if (closing_ && !replies_outstanding()) close();
        return;
    }
    writing_.swap(out_);
    write_in_flight_ = true;
    boost::asio::async_write(socket_, boost::asio::buffer(writing_),
                             [self = shared_from_this()](const boost::system::error_code& ec,
                                                         std::size_t n) { self->on_write(ec, n); });
}

void ClientConnection::on_write(const boost::system::error_code& ec, std::size_t n) {
    write_in_flight_ = false;
    if (closed_) return;
    if (ec) {
        close();
        return;
    }
    context_.stats.total_net_output_bytes += n;
    release_if_large(writing_);
    write_next();
    read_next();  // resumes a client paused for its unwritten output
}

std::size_t ClientConnection::pending_output() const {
    return out_.size() + (write_in_flight_ ? writing_.size() : 0) + held_bytes_;
}

}  // namespace meridian::node
