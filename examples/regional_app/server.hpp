// Server: accepts HTTP connections and serves each on a thread of its own with
// blocking I/O and its own Ledger (so a write waiting on a far home region
// holds up only its own connection). run() returns after stop(), which any
// thread (or a signal handler on the io_context) may call.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <list>
#include <mutex>
#include <string>
#include <thread>

#include "ledger.hpp"

namespace meridian::regional_app {

class Server {
public:
    // Binds `endpoint` (throws boost::system::system_error if it cannot: start-up only).
    Server(boost::asio::ip::tcp::endpoint endpoint, LedgerConfig ledger, std::string region);
    ~Server();

    boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
    // Serves until stop() or SIGINT/SIGTERM, then closes every connection and joins its thread.
    void run();
    void stop();

private:
    struct Connection {
        boost::asio::ip::tcp::socket socket;
        std::thread thread;
    };

    void accept();
    void serve(Connection& connection);

    boost::asio::io_context io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    LedgerConfig ledger_;
    std::string region_;
    std::mutex mutex_;  // guards connections_ and finished_
    std::list<Connection> connections_;
    std::list<std::list<Connection>::iterator> finished_;  // threads done, to join
};

}  // namespace meridian::regional_app
