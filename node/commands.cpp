#include "node/commands.hpp"

#include <algorithm>
#include <charconv>
#include <unordered_map>

#include "node/resp_reply.hpp"

namespace meridian::node {

std::string to_lower(std::string_view text) {
    std::string lower(text);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

std::optional<std::int64_t> parse_int(std::string_view text) {
    std::int64_t value = 0;
    if (text.empty() || text.size() > 20) return std::nullopt;
    // Redis's string2ll takes only the canonical form: no leading zero, no "-0", no '+'.
    const std::string_view digits = text[0] == '-' ? text.substr(1) : text;
    if (digits.empty() || (digits[0] == '0' && text.size() > 1)) return std::nullopt;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

const std::vector<CommandSpec>& command_table() {
    static const std::vector<CommandSpec> table = [] {
        std::vector<CommandSpec> all;
        for (auto group : {data_commands(), string_commands(), key_commands(), expiry_commands(),
                           hash_commands(), server_commands(), transaction_commands()})
            all.insert(all.end(), group.begin(), group.end());
        return all;
    }();
    return table;
}

const CommandSpec* find_command(const std::string& lower_name) {
    static const std::unordered_map<std::string_view, const CommandSpec*> by_name = [] {
        std::unordered_map<std::string_view, const CommandSpec*> map;
        for (const CommandSpec& spec : command_table()) map.emplace(spec.name, &spec);
        return map;
    }();
    auto it = by_name.find(lower_name);
    return it == by_name.end() ? nullptr : it->second;
}

// Redis 7's text: the arguments, each quoted and followed by a space, until 128 bytes of them.
std::string unknown_command_error(const std::vector<std::string>& args) {
    std::string shown;
    for (std::size_t i = 1; i < args.size() && shown.size() < 128; ++i)
        shown += "'" + args[i].substr(0, 128 - shown.size()) + "' ";
    return "ERR unknown command '" + args[0].substr(0, 128) + "', with args beginning with: " + shown;
}

bool arity_fits(const CommandSpec& spec, std::size_t argc) {
    const auto n = static_cast<int>(argc);
    return spec.arity > 0 ? n == spec.arity : n >= -spec.arity;
}

std::string arity_error(const CommandSpec& spec) {
    const std::string error = "wrong number of arguments for '" + std::string(spec.name) + "' command";
    // Redis 7 answers a malformed EXEC as an aborted transaction, inside MULTI or not.
    if (spec.name == std::string_view("exec")) return "EXECABORT Transaction discarded because of: " + error;
    return "ERR " + error;
}

void run_checked(const CommandSpec& spec, Request& request) {
    NodeContext& node = request.node;
    if (spec.write && node.db().log().broken()) {
        resp::error(request.reply, "MISCONF the write-ahead log failed (" + node.db().log().error() +
                                       "); this node refuses writes until it is restarted");
        return;
    }
    spec.handler(request);
}

void dispatch(NodeContext& node, ClientState& client, std::vector<std::string>& args, ReplySlot slot) {
    Request request{node, client, args, std::move(slot), {}};
    const CommandSpec* spec = find_command(to_lower(args[0]));
    if (queued_in_transaction(request, spec)) {
        // queued, or refused with the reason
    } else if (!spec) {
        resp::error(request.reply, unknown_command_error(args));
    } else if (!arity_fits(*spec, args.size())) {
        resp::error(request.reply, arity_error(*spec));
    } else {
        run_checked(*spec, request);
    }
    if (!request.slot_taken) {
        if (request.reply.empty()) resp::error(request.reply, "ERR internal error: no reply");
        request.slot.complete(std::move(request.reply));
    }
}

namespace reply {

std::string wrong_type(std::string_view key, const conflict::Policy& policy, std::string_view command) {
    std::string out;
    resp::error(out, "WRONGTYPE Operation against a key holding the wrong kind of value: key '" +
                         std::string(key.substr(0, 128)) + "' is " + std::string(crdt::name_of(policy.type)) +
                         (policy.match.empty() ? std::string(" (the default policy)")
                                               : " (policy '" + policy.match + "')") +
                         ", which " + to_lower(command) + " does not apply to");
    return out;
}

std::string write_error(const WriteError& error, std::string_view key, const conflict::Policy& policy,
                        std::string_view command) {
    std::string out;
    if (error.kind == WriteError::Kind::log_failed) {
        resp::error(out, "MISCONF the write-ahead log failed (" + error.message +
                             "); this node refuses writes until it is restarted");
        return out;
    }
    switch (error.refusal) {
        case conflict::Refusal::wrong_type: return wrong_type(key, policy, command);
        case conflict::Refusal::overflow: resp::error(out, "ERR increment or decrement would overflow"); break;
        case conflict::Refusal::below_floor:
            resp::error(out, "ERR insufficient balance: '" + std::string(key.substr(0, 128)) +
                                 "' would go below its floor of " + std::to_string(policy.min.value_or(0)));
            break;
        case conflict::Refusal::insufficient_rights:
            resp::error(out, "ERR insufficient balance: this region holds too few rights on '" +
                                 std::string(key.substr(0, 128)) + "' to go below its floor of " +
                                 std::to_string(policy.min.value_or(0)));
            break;
        case conflict::Refusal::stale_epoch:
            resp::error(out, "TRYAGAIN '" + std::string(key.substr(0, 128)) +
                                 "' was sealed by the owner of its home at a later failover epoch; "
                                 "only that owner writes it");
            break;
        case conflict::Refusal::retired:
            resp::error(out, "ERR this region's rights on '" + std::string(key.substr(0, 128)) +
                                 "' were handed over to another region (a failover retired this "
                                 "region's epoch)");
            break;
        case conflict::Refusal::not_an_integer:
            resp::error(out, "ERR hash value is not an integer");
            break;
        case conflict::Refusal::not_supported:
            resp::error(out, "ERR " + to_lower(command) + " is not supported on " +
                                 std::string(crdt::name_of(policy.type)) + " key '" +
                                 std::string(key.substr(0, 128)) + "'");
            break;
    }
    return out;
}

std::string syntax_error() {
    std::string out;
    resp::error(out, "ERR syntax error");
    return out;
}

std::string not_integer() {
    std::string out;
    resp::error(out, "ERR value is not an integer or out of range");
    return out;
}

}  // namespace reply

}  // namespace meridian::node
