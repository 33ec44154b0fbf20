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

    // Hands the reply slot to the handler (for a later answer).
    ReplySlot take_slot() {
        slot_taken = true;
        return std::move(slot);
    }
    // Answers once `lsn` is durable (writes).
    void reply_when_durable(std::uint64_t lsn, std::string bytes) {
        node.complete_when_durable(lsn, take_slot(), std::move(bytes));
    }
};

struct CommandSpec {
    std::string_view name;  // lower case
    int arity;              // Redis convention: N exact (name included), -N at least N
    bool write;             // changes data (refused while the log is broken)
    void (*handler)(Request&);
};

// Runs the request; always completes the slot eventually.
void dispatch(NodeContext& node, ClientState& client, std::vector<std::string>& args, ReplySlot slot);

// The table, for COMMAND.
const std::vector<CommandSpec>& command_table();

// Handlers live in commands_*.cpp; each group registers through these.
std::vector<CommandSpec> data_commands();
std::vector<CommandSpec> key_commands();
std::vector<CommandSpec> server_commands();

// Shared helpers for handlers.
namespace reply {
std::string wrong_type(std::string_view key, const conflict::Policy& policy, std::string_view command);
std::string write_error(const WriteError& error, std::string_view key, const conflict::Policy& policy,
                        std::string_view command);
std::string syntax_error();
std::string not_integer();
}  // namespace reply

std::optional<std::int64_t> parse_int(std::string_view text);
std::string to_lower(std::string_view text);

}  // namespace meridian::node
