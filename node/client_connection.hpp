// One Redis client's connection, private to ClientServer: reads and parses requests, runs them
// through the handler, and writes replies in request order with one write in flight. It owns
// itself (enable_shared_from_this) and runs only on the server's io_context thread.
#pragma once

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "node/client_server.hpp"
#include "node/resp_parser.hpp"

namespace meridian::node {

// What every connection of one server shares. The server owns it and closes its connections
// before it goes, so an open connection may use it and a closed one never touches it again.
struct ConnectionContext {
    const ClientServerOptions& options;
    CommandHandler& handler;
    const std::function<std::uint64_t()>& now_ms;
    ClientServerStats& stats;
    std::function<void(std::uint64_t client_id)> forget;  // the server drops a closed connection
};

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
public:
    ClientConnection(boost::asio::ip::tcp::socket socket, ClientState state,
                     ConnectionContext& context);

    void start();
    // Closes now, dropping unwritten replies, and tells the server to forget this connection.
    void close();

    const ClientState& state() const { return state_; }
    // No request or reply in progress and nothing read since `cutoff_ms`: an idle client.
    bool idle_since(std::uint64_t cutoff_ms) const;

private:
    friend class ReplySlot;

    void read_next();
    void on_read(const boost::system::error_code& ec, std::size_t n);
    void run_requests(std::string_view input, std::uint64_t now);
    void dispatch(std::vector<std::string>& args, std::uint64_t now);
    void reply_now(std::string_view error_line);
    void complete(std::uint64_t seq, std::string bytes);
    void write_next();
    void on_write(const boost::system::error_code& ec, std::size_t n);
    std::size_t pending_output() const;
    bool replies_outstanding() const { return head_seq_ != next_seq_; }

    boost::asio::ip::tcp::socket socket_;
    ClientState state_;
    ConnectionContext& context_;
    RespParser parser_;
    std::array<char, 16 * 1024> read_buffer_;  // Redis's PROTO_IOBUF_LEN; the parser keeps partials

    // Replies [head_seq_, next_seq_) are not in out_ yet. In the common case every reply completes
    // while its request runs, head_seq_ == next_seq_ after each and held_ stays empty. Once one
    // is deferred, held_[i] keeps reply head_seq_ + i (nullopt while pending) until the prefix
    // before it completes.
    std::uint64_t head_seq_ = 0;
    std::uint64_t next_seq_ = 0;
    std::deque<std::optional<std::string>> held_;
    std::size_t held_bytes_ = 0;
    std::string out_;      // complete replies waiting for the next write
    std::string writing_;  // the bytes of the write in flight (swapped with out_)

    std::uint64_t last_input_ms_ = 0;
    bool reading_ = false;  // a read is in flight
    bool write_in_flight_ = false;
    bool in_batch_ = false;  // running a read's requests: their replies go out together
    bool closing_ = false;   // QUIT or a protocol error: close once every reply is written
    bool closed_ = false;
};

}  // namespace meridian::node
