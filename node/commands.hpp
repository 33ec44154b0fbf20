// The command table: RESP requests to handlers. A handler reads its args,
// reads or writes through the NodeContext, and either leaves a reply in
// `reply` (sent right away) or takes the slot to complete it later (a write
// waiting for fsync, WAIT, a forwarded write). Event-loop thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/client_server.hpp"
#include "node/node_context.hpp"

namespace meridian::node {

struct Request {
    NodeContext& node;
    ClientState& client;
    std::vector<std::string>& args;
    ReplySlot slot;
    std::string reply;  // RESP bytes, when the handler answers at once
    bool slot_taken = false;
    // Run by EXEC: the handler must answer in `reply` (the slot holds no place), and a write's
    // answer waits for the transaction's record, not its own.
    bool in_transaction = false;

    // Hands the reply slot to the handler (for a later answer).
    ReplySlot take_slot() {
        slot_taken = true;
        return std::move(slot);
    }
    // Answers once `lsn` is durable (writes).
    void reply_when_durable(std::uint64_t lsn, std::string bytes) {
        if (in_transaction) return void(reply = std::move(bytes));
        node.complete_when_durable(lsn, take_slot(), std::move(bytes));
    }
};

struct CommandSpec {
    std::string_view name;  // lower case
    int arity;              // Redis convention: N exact (name included), -N at least N
    bool write;             // changes data (refused while the log is broken)
    void (*handler)(Request&);
    // Whether MULTI may queue it: false for commands that answer later (WAIT, MERIDIAN) or
    // change the connection's authentication (AUTH, HELLO).
    bool queueable = true;
};

// Runs the request; always completes the slot eventually.
void dispatch(NodeContext& node, ClientState& client, std::vector<std::string>& args, ReplySlot slot);

// The table, for COMMAND.
const std::vector<CommandSpec>& command_table();

// Handlers live in commands_*.cpp; each group registers through these.
std::vector<CommandSpec> data_commands();
std::vector<CommandSpec> string_commands();
std::vector<CommandSpec> key_commands();
std::vector<CommandSpec> expiry_commands();
std::vector<CommandSpec> hash_commands();
std::vector<CommandSpec> server_commands();
std::vector<CommandSpec> transaction_commands();

// Runs a command found in the table whose arity was checked: refuses writes while the log is
// broken, else calls its handler. EXEC runs each queued command through this.
void run_checked(const CommandSpec& spec, Request& request);
// The table entry for a lower-case name, or nullptr.
const CommandSpec* find_command(const std::string& lower_name);
// Redis's errors for an unknown command and a wrong number of arguments.
std::string unknown_command_error(const std::vector<std::string>& args);
bool arity_fits(const CommandSpec& spec, std::size_t argc);
std::string arity_error(const CommandSpec& spec);
// Between MULTI and EXEC: queues the request, or answers why it cannot be queued (unknown,
// wrong arity: EXEC then answers EXECABORT), unless it is a well-formed command that acts on
// the transaction itself (EXEC, DISCARD, MULTI, WATCH, QUIT). True when it answered. In
// commands_transaction.cpp.
bool queued_in_transaction(Request& request, const CommandSpec* spec);

// Shared helpers for handlers.
namespace reply {
std::string wrong_type(std::string_view key, const conflict::Policy& policy, std::string_view command);
std::string write_error(const WriteError& error, std::string_view key, const conflict::Policy& policy,
                        std::string_view command);
std::string syntax_error();
std::string not_integer();
}  // namespace reply

// A whole signed 64-bit decimal in canonical form, as Redis reads integer arguments.
std::optional<std::int64_t> parse_int(std::string_view text);
std::string to_lower(std::string_view text);

}  // namespace meridian::node
