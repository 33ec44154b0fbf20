// The RESP2 server for Redis clients: accepts on `client_listen`, parses pipelined requests and
// hands each to a CommandHandler, writing replies back in request order. Everything, the handler
// calls and ReplySlot::complete included, runs on the one io_context thread that owns the node.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"
#include "node/resp_parser.hpp"

namespace meridian::node {

class ClientConnection;
struct ConnectionContext;

// What a client connection carries between commands.
struct ClientState {
    std::uint64_t id = 0;
    std::string peer_address;        // "127.0.0.1:53122", "[::1]:53122"
    std::string name;                // CLIENT SETNAME (optional)
    bool authenticated = false;      // set by the handler's AUTH
    bool close_after_reply = false;  // QUIT sets this: later pipelined requests are ignored
    // The node's per-client data (e.g. the dot of the client's last write, for WAIT):
    std::uint64_t last_write_seq = 0;
    std::uint64_t created_ms = 0, last_command_ms = 0;
    // Between MULTI and EXEC / DISCARD: the commands queued so far.
    struct Transaction {
        std::vector<std::vector<std::string>> commands;
        std::size_t bytes = 0;  // of their arguments, to bound what one client may queue
        bool failed = false;    // a command could not be queued: EXEC answers EXECABORT
    };
    std::optional<Transaction> transaction;
};

// A place in the client's reply stream. Replies go out in request order, so a reply completed
// later (after an fsync, a WAIT, a forwarded write) holds back the ones after it. Completing it
// after the client disconnected does nothing; completing it twice is a bug (asserted). A slot
// dropped without a reply answers "-ERR ..." so the replies behind it are not stuck forever.
class ReplySlot {
public:
    ReplySlot() = default;  // holds no place, like a moved-from slot
    ReplySlot(ReplySlot&& other) noexcept;
    ReplySlot& operator=(ReplySlot&& other) noexcept;
    ReplySlot(const ReplySlot&) = delete;
    ReplySlot& operator=(const ReplySlot&) = delete;
    ~ReplySlot();

    // A slot with no connection behind it: completing it calls `deliver` (a command run on
    // behalf of a peer region, whose answer goes back over the peer link). Its receiver counts
    // as alive; dropping it delivers the "-ERR ..." a dropped client slot would answer.
    static ReplySlot callback(std::function<void(std::string)> deliver);

    // `resp_bytes` is one whole encoded reply (node/resp_reply.hpp).
    void complete(std::string resp_bytes);
    bool client_alive() const;

private:
    friend class ClientConnection;
    ReplySlot(std::weak_ptr<ClientConnection> connection, std::uint64_t seq);

    std::weak_ptr<ClientConnection> connection_;
    std::uint64_t seq_ = 0;
    bool pending_ = false;
    std::function<void(std::string)> deliver_;  // callback slots only
};

class CommandHandler {
public:
    virtual ~CommandHandler() = default;
    // Runs one request; `args[0]` is the command name as the client sent it (any case) and the
    // handler may move the strings out. It completes `slot` now or later.
    virtual void execute(ClientState& client, std::vector<std::string>& args, ReplySlot slot) = 0;
    // Called once after a read's worth of requests was executed (not after a read that executed
    // none): the node writes (and, under fsync = always, schedules the fsync of) the WAL records
    // those requests appended. Replies completed in here go out with the same write.
    virtual void after_batch() = 0;
};

struct ClientServerOptions {
    std::string listen;  // "host:port", an IPv6 host in brackets; port 0 picks a free one
    RespLimits limits;
    std::uint32_t max_clients = 10000;
    std::uint32_t client_timeout_ms = 0;  // idle clients closed after this; 0 = never
    // A client whose unwritten replies pass this is closed (reading from it already pauses at
    // 1 MiB, so only a batch or deferred replies can take it there).
    std::size_t max_pending_output = 64u << 20;
    // Non-empty: until the handler sets client.authenticated, only AUTH, HELLO and QUIT reach the
    // handler; the server answers everything else "-NOAUTH Authentication required.".
    std::string requirepass;
};

// Counters as Redis's INFO stats names them, where Redis has a name.
struct ClientServerStats {
    std::uint64_t total_connections_received = 0;  // accepted; rejected ones not included
    std::uint64_t rejected_connections = 0;        // refused at max_clients
    std::uint64_t total_commands_processed = 0;    // requests handed to the handler
    std::uint64_t total_net_input_bytes = 0;
    std::uint64_t total_net_output_bytes = 0;
    std::uint64_t protocol_errors = 0;  // connections closed for breaking RESP
    std::uint64_t limit_errors = 0;     // requests refused for breaking a RespLimits bound
    std::uint64_t noauth_rejections = 0;
    std::uint64_t client_output_buffer_limit_disconnections = 0;  // past max_pending_output
    std::uint64_t idle_timeout_disconnections = 0;
};

// "host:port" or "[v6]:port" to an endpoint; a host name is resolved (blocking: start-up only).
Expected<boost::asio::ip::tcp::endpoint, std::string> listen_endpoint(std::string_view host_port);

// Opens, binds and listens `acceptor` on `host_port`; on failure it is closed again and the
// error names the step, the address and `what` listens there ("clients", "admin HTTP").
Expected<void, std::string> open_listener(boost::asio::ip::tcp::acceptor& acceptor,
                                          const std::string& host_port, std::string_view what);

class ClientServer {
public:
    using Stats = ClientServerStats;

    // `handler` and `now_ms` (milliseconds of any steady clock) outlive the server.
    ClientServer(boost::asio::io_context& io, ClientServerOptions options, CommandHandler& handler,
                 std::function<std::uint64_t()> now_ms);
    ~ClientServer();  // close_all()
    ClientServer(const ClientServer&) = delete;
    ClientServer& operator=(const ClientServer&) = delete;

    // Binds and listens; the error names the address and the reason (e.g. already in use).
    Expected<void, std::string> start();
    std::uint16_t bound_port() const;  // for tests that listen on port 0

    // Shutdown, step 1: new connections are refused; open ones keep being served.
    void stop_accepting();
    // Shutdown, step 2 (once in-flight replies were flushed, as the node decides): closes every
    // connection now; replies still unwritten are dropped.
    void close_all();

    std::size_t connected_clients() const { return connections_.size(); }
    const Stats& stats() const { return stats_; }
    // Calls f for every connected client in id order (CLIENT LIST, INFO clients).
    void for_each_client(const std::function<void(const ClientState&)>& f) const;

private:
    void accept_next();
    void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
    void reject(boost::asio::ip::tcp::socket& socket);
    void schedule_idle_sweep();
    void close_idle_clients();

    ClientServerOptions options_;
    std::function<std::uint64_t()> now_ms_;
    Stats stats_;
    std::unique_ptr<ConnectionContext> context_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::steady_timer accept_retry_timer_;
    boost::asio::steady_timer idle_timer_;
    std::map<std::uint64_t, std::shared_ptr<ClientConnection>> connections_;
    std::uint64_t next_client_id_ = 1;
    bool accepting_ = false;
    // Handlers queued on the io_context check this before touching a destroyed server.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meridian::node
