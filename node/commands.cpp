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
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

const std::vector<CommandSpec>& command_table() {
    static const std::vector<CommandSpec> table = [] {
        std::vector<CommandSpec> all;
        for (auto group : {data_commands(), key_commands(), server_commands()})
            all.insert(all.end(), group.begin(), group.end());
        return all;
    }();
    return table;
}

namespace {

const CommandSpec* find_command(const std::string& lower_name) {
    static const std::unordered_map<std::string_view, const CommandSpec*> by_name = [] {
        std::unordered_map<std::string_view, const CommandSpec*> map;
        for (const CommandSpec& spec : command_table()) map.emplace(spec.name, &spec);
        return map;
    }();
    auto it = by_name.find(lower_name);
    return it == by_name.end() ? nullptr : it->second;
}

std::string unknown_command(const std::vector<std::string>& args) {
    std::string message = "ERR unknown command '" + args[0].substr(0, 128) + "', with args beginning with:";
    for (std::size_t i = 1; i < args.size() && i < 4; ++i) message += " '" + args[i].substr(0, 128) + "'";
    return message;
}

}  // namespace

void dispatch(NodeContext& node, ClientState& client, std::vector<std::string>& args, ReplySlot slot) {
    Request request{node, client, args, std::move(slot), {}};
    const std::string name = to_lower(args[0]);
    const CommandSpec* spec = find_command(name);
    if (!spec) {
        resp::error(request.reply, unknown_command(args));
    } else if ((spec->arity > 0 && static_cast<int>(args.size()) != spec->arity) ||
               (spec->arity < 0 && static_cast<int>(args.size()) < -spec->arity)) {
        resp::error(request.reply, "ERR wrong number of arguments for '" + name + "' command");
    } else if (spec->write && node.db().log().broken()) {
        resp::error(request.reply, "MISCONF the write-ahead log failed (" + node.db().log().error() +
                                       "); this node refuses writes until it is restarted");
    } else {
        spec->handler(request);
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
