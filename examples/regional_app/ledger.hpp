// Ledger: the app's accounts, kept in the region's local Meridian node. Turns
// deposit / withdraw / balance into INCRBY / DECRBY / GET on the account's key
// and the node's answers into values or typed errors. One connection, used by
// one thread at a time (the app gives each HTTP connection its own Ledger).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"

struct redisContext;

namespace meridian::regional_app {

struct LedgerError {
    enum class Kind {
        insufficient_balance,  // -ERR insufficient balance: the floor holds, nothing changed
        try_again,             // -TRYAGAIN: the key's home region is out of reach, nothing changed
        outcome_unknown,       // -TIMEOUT (the home did not answer in time), or the node did not
                               // answer or dropped the connection: it may have applied it
        node_error,            // any other error reply (wrong type, ...)
        unreachable,           // cannot connect to the node: nothing was sent
    };
    Kind kind;
    std::string message;  // the node's reply or the I/O error
};

struct LedgerConfig {
    std::string host = "127.0.0.1";
    std::uint16_t port = 7001;
    std::string key_pattern = "bounded:{id}";  // "{id}" is replaced by the account id
    int timeout_ms = 5000;  // above the node's forward_timeout_ms, so a home write can finish
};

class Ledger {
public:
    explicit Ledger(LedgerConfig config);
    ~Ledger();
    Ledger(const Ledger&) = delete;
    Ledger& operator=(const Ledger&) = delete;

    // Each returns the account's balance as this region sees it afterwards.
    Expected<std::int64_t, LedgerError> deposit(std::string_view account, std::int64_t amount);
    Expected<std::int64_t, LedgerError> withdraw(std::string_view account, std::int64_t amount);
    Expected<std::int64_t, LedgerError> balance(std::string_view account);
    // The node's region name (INFO server), e.g. "eu-west".
    Expected<std::string, LedgerError> region();

    std::string key_of(std::string_view account) const;

private:
    struct Free {
        void operator()(redisContext* context) const;
    };
    struct Answer;
    Expected<Answer, LedgerError> run(std::initializer_list<std::string_view> argv);
    Expected<std::int64_t, LedgerError> add(std::string_view account, std::int64_t amount);

    LedgerConfig config_;
    std::unique_ptr<redisContext, Free> context_;
};

// A key pattern must name the account somewhere: it contains "{id}".
bool valid_key_pattern(std::string_view pattern);

}  // namespace meridian::regional_app
