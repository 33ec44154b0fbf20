// Connection and server commands: PING ECHO QUIT AUTH SELECT HELLO COMMAND
// CONFIG CLIENT INFO WAIT, and MERIDIAN for operators. Enough of the Redis
// surface that redis-cli, redis-benchmark and client libraries' handshakes work.
#include <openssl/crypto.h>

#include "conflict/glob.hpp"
#include "conflict/home_router.hpp"
#include "node/commands.hpp"
#include "node/conflict_report.hpp"
#include "node/resp_reply.hpp"
#include "node/rights_broker.hpp"

namespace meridian::node {

namespace {

void ping(Request& r) {
    if (r.args.size() > 2) return void(resp::error(r.reply, "ERR wrong number of arguments for 'ping' command"));
    if (r.args.size() == 2) resp::bulk(r.reply, r.args[1]);
    else resp::simple(r.reply, "PONG");
}

void echo(Request& r) { resp::bulk(r.reply, r.args[1]); }

void quit(Request& r) {
    r.client.close_after_reply = true;
    resp::simple(r.reply, "OK");
}

// Checks a password in constant time; answers and returns false on failure.
bool authenticate(Request& r, std::string_view user, std::string_view password) {
    const std::string& expected = r.node.config().requirepass;
    if (expected.empty()) {
        resp::error(r.reply, "ERR AUTH <password> called without any password configured for the default "
                             "user. Are you sure your configuration is correct?");
        return false;
    }
    const bool match = user == "default" && password.size() == expected.size() &&
                       CRYPTO_memcmp(password.data(), expected.data(), expected.size()) == 0;
    if (!match) {
        resp::error(r.reply, "WRONGPASS invalid username-password pair or user is disabled.");
        return false;
    }
    r.client.authenticated = true;
    return true;
}

void auth(Request& r) {
    if (r.args.size() > 3) return void(r.reply = reply::syntax_error());
    const bool ok = r.args.size() == 2 ? authenticate(r, "default", r.args[1])
                                       : authenticate(r, r.args[1], r.args[2]);
    if (ok) resp::simple(r.reply, "OK");
}

void select(Request& r) {
    if (r.args[1] == "0") return void(resp::simple(r.reply, "OK"));
    resp::error(r.reply, "ERR DB index is out of range (Meridian has one database, 0)");
}

void hello(Request& r) {
    if (r.args.size() >= 2 && r.args[1] != "2") {
        resp::error(r.reply, "NOPROTO sorry, this protocol version is not supported (Meridian speaks RESP2)");
        return;
    }
    for (std::size_t i = 2; i < r.args.size(); ++i) {
        const std::string option = to_lower(r.args[i]);
        if (option == "auth" && i + 2 < r.args.size()) {
            if (!authenticate(r, r.args[i + 1], r.args[i + 2])) return;
            i += 2;
        } else if (option == "setname" && i + 1 < r.args.size()) {
            r.client.name = r.args[++i];
        } else {
            return void(r.reply = reply::syntax_error());
        }
    }
    resp::array(r.reply, 14);
    resp::bulk(r.reply, "server");
    resp::bulk(r.reply, "meridian");
    resp::bulk(r.reply, "version");
    resp::bulk(r.reply, "7.0.0");
    resp::bulk(r.reply, "proto");
    resp::integer(r.reply, 2);
    resp::bulk(r.reply, "id");
    resp::integer(r.reply, static_cast<std::int64_t>(r.client.id));
    resp::bulk(r.reply, "mode");
    resp::bulk(r.reply, "standalone");
    resp::bulk(r.reply, "role");
    resp::bulk(r.reply, "master");
    resp::bulk(r.reply, "modules");
    resp::array(r.reply, 0);
}

void command_info(std::string& out, const CommandSpec& spec) {
    resp::array(out, 6);
    resp::bulk(out, spec.name);
    resp::integer(out, spec.arity);
    resp::array(out, 1);
    resp::simple(out, spec.write ? "write" : "readonly");
    const bool keyed = spec.name != "ping" && spec.name != "echo" && spec.write;  // rough, for clients' routing
    resp::integer(out, keyed ? 1 : 0);
    resp::integer(out, keyed ? 1 : 0);
    resp::integer(out, keyed ? 1 : 0);
}

void command(Request& r) {
    const auto& table = command_table();
    const std::string sub = r.args.size() > 1 ? to_lower(r.args[1]) : "";
    if (sub.empty()) {
        resp::array(r.reply, table.size());
        for (const CommandSpec& spec : table) command_info(r.reply, spec);
    } else if (sub == "count") {
        resp::integer(r.reply, static_cast<std::int64_t>(table.size()));
    } else if (sub == "docs") {
        resp::array(r.reply, 0);  // no documentation to offer; clients treat this as "none"
    } else if (sub == "info") {
        resp::array(r.reply, r.args.size() - 2);
        for (std::size_t i = 2; i < r.args.size(); ++i) {
            const std::string name = to_lower(r.args[i]);
            auto it = std::find_if(table.begin(), table.end(), [&](const CommandSpec& s) { return s.name == name; });
            if (it == table.end()) resp::null_array(r.reply);
            else command_info(r.reply, *it);
        }
    } else {
        resp::error(r.reply, "ERR unknown subcommand '" + r.args[1].substr(0, 64) + "'. Try COMMAND, COMMAND COUNT, COMMAND INFO, COMMAND DOCS.");
    }
}

// CONFIG GET answers the few parameters clients and redis-benchmark look at.
void config(Request& r) {
    if (to_lower(r.args[1]) != "get" || r.args.size() != 3) {
        resp::error(r.reply, "ERR CONFIG " + r.args[1].substr(0, 32) +
                                 " is not supported: Meridian is configured by its cluster file");
        return;
    }
    const std::vector<std::pair<std::string, std::string>> known = {
        {"save", ""},
        {"appendonly", "no"},
        {"databases", "1"},
        {"appendfsync", r.node.config().fsync == FsyncMode::always     ? "always"
                        : r.node.config().fsync == FsyncMode::everysec ? "everysec"
                                                                       : "no"},
        {"maxclients", std::to_string(r.node.config().max_clients)},
        {"proto-max-bulk-len", std::to_string(r.node.config().max_bulk_bytes)},
    };
    std::vector<std::pair<std::string, std::string>> matches;
    for (const auto& kv : known)
        if (conflict::glob_match(to_lower(r.args[2]), kv.first)) matches.push_back(kv);
    resp::array(r.reply, matches.size() * 2);
    for (const auto& [name, value] : matches) {
        resp::bulk(r.reply, name);
        resp::bulk(r.reply, value);
    }
}

void client(Request& r) {
    const std::string sub = to_lower(r.args[1]);
    if (sub == "setname" && r.args.size() == 3) {
        r.client.name = r.args[2];
        resp::simple(r.reply, "OK");
    } else if (sub == "getname") {
        if (r.client.name.empty()) resp::null_bulk(r.reply);
        else resp::bulk(r.reply, r.client.name);
    } else if (sub == "id") {
        resp::integer(r.reply, static_cast<std::int64_t>(r.client.id));
    } else if (sub == "setinfo" || sub == "no-evict" || sub == "no-touch") {
        resp::simple(r.reply, "OK");  // client libraries' handshakes
    } else if (sub == "info") {
        resp::bulk(r.reply, "id=" + std::to_string(r.client.id) + " addr=" + r.client.peer_address +
                                " name=" + r.client.name + "\n");
    } else {
        resp::error(r.reply, "ERR unknown subcommand '" + r.args[1].substr(0, 64) + "' for CLIENT");
    }
}

void info(Request& r) {
    std::string section = r.args.size() > 1 ? to_lower(r.args[1]) : "default";
    resp::bulk(r.reply, r.node.info(section));
}

void wait(Request& r) {
    auto regions = parse_int(r.args[1]);
    auto timeout = parse_int(r.args[2]);
    if (!regions || !timeout || *regions < 0 || *timeout < 0)
        return void(r.reply = reply::not_integer());
    r.node.wait_for_regions(r.client.last_write_seq, *regions, static_cast<std::uint64_t>(*timeout), r.take_slot());
}

std::string describe_home(const conflict::Policy& policy, std::string_view key, const ClusterConfig& config) {
    auto home = conflict::home_of(policy, key, config.directory);
    if (!home) return "error: " + home.error();
    return std::string(config.directory.name_of(*home));
}

void meridian(Request& r) {
    const std::string sub = to_lower(r.args[1]);
    Database& db = r.node.db();
    const ClusterConfig& config = r.node.config();
    if (sub == "policy" && r.args.size() == 3) {
        const conflict::Policy& policy = db.policy(r.args[2]);
        std::vector<std::pair<std::string, std::string>> fields = {
            {"match", policy.match.empty() ? "(default)" : policy.match},
            {"type", std::string(crdt::name_of(policy.type))},
            {"route", policy.home_routed ? "home" : "local"},
        };
        if (policy.home_routed) fields.emplace_back("home", describe_home(policy, r.args[2], config));
        if (policy.min) fields.emplace_back("min", std::to_string(*policy.min));
        resp::array(r.reply, fields.size() * 2);
        for (const auto& [name, value] : fields) {
            resp::bulk(r.reply, name);
            resp::bulk(r.reply, value);
        }
    } else if (sub == "vv" && r.args.size() == 2) {
        // "region.epoch:seq" per replica, region by name.
        std::string text;
        for (const auto& e : db.log().version_vector().entries()) {
            if (!text.empty()) text += ' ';
            const std::string_view name = config.directory.name_of(e.replica.region);
            text += (name.empty() ? std::to_string(e.replica.region) : std::string(name)) + "." +
                    std::to_string(e.replica.epoch) + ":" + std::to_string(e.seq);
        }
        resp::bulk(r.reply, text);
    } else if (sub == "rights" && r.args.size() == 3) {
        const conflict::Policy& policy = db.policy(r.args[2]);
        if (policy.type != crdt::ValueType::bounded_counter)
            return void(resp::error(r.reply, "ERR '" + r.args[2].substr(0, 128) + "' is not a bounded_counter key"));
        const crdt::Value* value = db.keyspace().find(r.args[2]);
        const crdt::BoundedCounter empty;
        const crdt::BoundedCounter& counter = value && value->as<crdt::BoundedCounter>()
                                                  ? *value->as<crdt::BoundedCounter>()
                                                  : empty;
        const auto rights = rights_by_replica(counter, {policy.min.value_or(0), db.floor_holder()});
        // region.epoch, rights: what each incarnation may spend, as this region sees it.
        resp::array(r.reply, rights.size() * 2);
        for (const auto& [replica, amount] : rights) {
            const std::string_view name = config.directory.name_of(replica.region);
            resp::bulk(r.reply, std::string(name) + "." + std::to_string(replica.epoch));
            resp::integer(r.reply, amount);
        }
    } else if (sub == "backup" && r.args.size() == 3) {
        r.node.backup(r.args[2], r.take_slot());
    } else if (sub == "conflicts") {
        auto q = parse_conflict_query(std::span(r.args).subspan(2));
        if (!q) return void(resp::error(r.reply, "ERR " + q.error()));
        conflicts_reply(r.reply, select_conflicts(r.node.conflicts().log(), *q), config.directory);
    } else if (sub == "failover" && r.args.size() == 4) {
        r.node.failover(r.args[2], r.args[3], r.take_slot());
    } else if (sub == "homes" && r.args.size() == 2) {
        r.reply = r.node.homes_reply();
    } else if (sub == "peers" && r.args.size() == 2) {
        r.reply = r.node.peers_reply();
    } else if ((sub == "pause" || sub == "resume") && r.args.size() == 3) {
        if (r.node.set_peer_paused(r.args[2], sub == "pause")) resp::simple(r.reply, "OK");
        else resp::error(r.reply, "ERR no peer region named '" + r.args[2].substr(0, 64) + "'");
    } else {
        resp::error(r.reply,
                    "ERR usage: MERIDIAN POLICY key | VV | PEERS | RIGHTS key | PAUSE region | "
                    "RESUME region | "
                    "BACKUP dir | CONFLICTS [COUNT n] [MATCH glob] [SINCE hlc] | HOMES | "
                    "FAILOVER from-region to-region");
    }
}

}  // namespace

std::vector<CommandSpec> server_commands() {
    return {
        {"ping", -1, false, ping},      {"echo", 2, false, echo},       {"quit", -1, false, quit},
        {"auth", -2, false, auth, false}, {"select", 2, false, select}, {"hello", -1, false, hello, false},
        {"command", -1, false, command}, {"config", -2, false, config}, {"client", -2, false, client},
        {"info", -1, false, info}, {"wait", 3, false, wait, false}, {"meridian", -2, false, meridian, false},
    };
}

}  // namespace meridian::node
