// regional_app: the app server one region would run next to its Meridian
// node. Accounts over HTTP, balances in the local node; every region's app
// writes locally and the regions agree on the balance once they have talked.
//
//   usage: regional_app --redis-port 7002 [--redis-host 127.0.0.1]
//                       [--listen 127.0.0.1:8080] [--key-pattern "bounded:{id}"]
//
//   curl -X POST localhost:8080/accounts/alice/deposit -d '{"amount": 25}'
//   curl -X POST localhost:8080/accounts/alice/withdraw -d '{"amount": 10}'
//   curl localhost:8080/accounts/alice
//
// Exit status: 0 after SIGINT/SIGTERM, 1 if it cannot start, 2 for a bad command line.
#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdio>
#include <thread>

#include "ledger.hpp"
#include "server.hpp"

using namespace meridian::regional_app;

int main(int argc, char** argv) {
    CLI::App app{"regional_app: a region's account service over its local Meridian node"};
    LedgerConfig ledger;
    std::string listen = "127.0.0.1:8080";
    app.add_option("--redis-port", ledger.port, "the local node's client port")->required();
    app.add_option("--redis-host", ledger.host, "the local node's host (default 127.0.0.1)");
    app.add_option("--listen", listen,
                   "HTTP address host:port (default 127.0.0.1:8080; port 0 = any)");
    app.add_option("--key-pattern", ledger.key_pattern,
                   "the account's key, {id} standing for its id (default bounded:{id}; "
                   "e.g. home:{us-east}:{id} or counter:{id})");
    CLI11_PARSE(app, argc, argv);
    if (!valid_key_pattern(ledger.key_pattern)) {
        std::fprintf(stderr, "regional_app: --key-pattern must contain {id}\n");
        return 2;
    }
    const auto colon = listen.rfind(':');
    boost::system::error_code bad_address;
    const auto address = boost::asio::ip::make_address(listen.substr(0, colon), bad_address);
    int port = -1;
    if (colon != std::string::npos) {
        try {
            port = std::stoi(listen.substr(colon + 1));
        } catch (const std::exception&) {
        }
    }
    if (colon == std::string::npos || bad_address || port < 0 || port > 65535) {
        std::fprintf(stderr, "regional_app: --listen %s is not an IP address:port\n",
                     listen.c_str());
        return 2;
    }

    // Which region this is, from the node itself (a few tries: it may be starting too).
    Ledger probe(ledger);
    auto region = probe.region();
    for (int attempt = 0; !region && attempt < 50; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        region = probe.region();
    }
    if (!region) {
        std::fprintf(stderr, "regional_app: %s\n", region.error().message.c_str());
        return 1;
    }

    try {
        Server server({address, static_cast<unsigned short>(port)}, ledger, *region);
        const auto bound = server.local_endpoint();
        std::printf("regional_app: %s accounts (%s) on http://%s:%u\n", region->c_str(),
                    ledger.key_pattern.c_str(), bound.address().to_string().c_str(), bound.port());
        std::fflush(stdout);
        server.run();
    } catch (const boost::system::system_error& e) {
        std::fprintf(stderr, "regional_app: cannot listen on %s: %s\n", listen.c_str(), e.what());
        return 1;
    }
    return 0;
}
