// Transactions: MULTI EXEC DISCARD, and WATCH (refused) / UNWATCH. Replies and
// errors follow Redis 7: a command that cannot be queued (unknown, wrong
// arity, not allowed) makes EXEC answer EXECABORT; an error while EXEC runs a
// command is that command's reply and the others still run.
//
// EXEC runs the queued commands one after another on the event loop, so no
// other client sees a partial transaction here, and its writes reach the log
// as one record (Database::begin_transaction), so no peer does either. A write
// whose home is another region cannot be forwarded from inside a transaction
// and is answered with an error (send the transaction to the home region).
#include "node/commands.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

// What one client may queue: a few values of the largest size a request may carry, and a
// per-argument overhead so that many tiny arguments are bounded as well.
constexpr std::size_t per_argument_overhead = 64;
std::size_t transaction_limit(const NodeContext& node) {
    return 4 * node.config().max_bulk_bytes;
}

bool controls_transaction(std::string_view name) {
    return name == "multi" || name == "exec" || name == "discard" || name == "watch" ||
           name == "quit";
}

void refuse_queueing(Request& r, std::string message) {
    r.client.transaction->failed = true;
    resp::error(r.reply, message);
}

void multi(Request& r) {
    if (r.client.transaction) return resp::error(r.reply, "ERR MULTI calls can not be nested");
    r.client.transaction.emplace();
    resp::simple(r.reply, "OK");
}

void discard(Request& r) {
    if (!r.client.transaction) return resp::error(r.reply, "ERR DISCARD without MULTI");
    r.client.transaction.reset();
    resp::simple(r.reply, "OK");
}

void exec(Request& r) {
    if (!r.client.transaction) return resp::error(r.reply, "ERR EXEC without MULTI");
    ClientState::Transaction transaction = std::move(*r.client.transaction);
    r.client.transaction.reset();
    if (transaction.failed)
        return resp::error(r.reply, "EXECABORT Transaction discarded because of previous errors.");

    Database& db = r.node.db();
    std::string replies;
    resp::array(replies, transaction.commands.size());
    db.begin_transaction();
    for (std::vector<std::string>& args : transaction.commands) {
        Request command{r.node, r.client, args, ReplySlot(), {}};
        command.in_transaction = true;
        run_checked(*find_command(to_lower(args[0])), command);  // found when it was queued
        // Queueable commands answer at once; an empty reply would be a bug, not a hang.
        if (command.slot_taken || command.reply.empty())
            resp::error(replies, "ERR internal error: '" + to_lower(args[0]) +
                                     "' did not answer inside EXEC");
        else
            replies += command.reply;
    }
    auto lsn = db.commit_transaction();
    if (!lsn) {
        return resp::error(r.reply, "MISCONF the write-ahead log failed (" + lsn.error().message +
                                        "); this node refuses writes until it is restarted");
    }
    if (!*lsn) return void(r.reply = std::move(replies));  // nothing written
    r.reply_when_durable(**lsn, std::move(replies));
}

void watch(Request& r) {
    if (r.client.transaction) return resp::error(r.reply, "ERR WATCH inside MULTI is not allowed");
    resp::error(
        r.reply,
        "ERR WATCH is not supported by Meridian: a check-and-set at one region cannot see "
        "concurrent writes at the others; use a home-routed key (route = \"home\") instead");
}

// Nothing is ever watched, so there is nothing to forget.
void unwatch(Request& r) {
    resp::simple(r.reply, "OK");
}

}  // namespace

bool queued_in_transaction(Request& r, const CommandSpec* spec) {
    auto& transaction = r.client.transaction;
    if (!transaction) return false;
    if (!spec) return refuse_queueing(r, unknown_command_error(r.args)), true;
    if (!arity_fits(*spec, r.args.size())) {
        // As Redis: an EXEC that cannot run ends the transaction (arity_error says so).
        if (spec->name == std::string_view("exec"))
            transaction.reset();
        else
            transaction->failed = true;
        return resp::error(r.reply, arity_error(*spec)), true;
    }
    if (controls_transaction(spec->name)) return false;
    if (!spec->queueable)
        return refuse_queueing(r, "ERR Command not allowed inside a transaction"), true;
    std::size_t bytes = 0;
    for (const std::string& arg : r.args) bytes += arg.size() + per_argument_overhead;
    if (transaction->bytes + bytes > transaction_limit(r.node)) {
        return refuse_queueing(r, "ERR transaction too large: the queued commands would exceed " +
                                      std::to_string(transaction_limit(r.node)) +
                                      " bytes (4 x proto-max-bulk-len); EXEC will abort"),
               true;
    }
    transaction->bytes += bytes;
    transaction->commands.push_back(std::move(r.args));
    resp::simple(r.reply, "QUEUED");
    return true;
}

std::vector<CommandSpec> transaction_commands() {
    return {
        {"multi", 1, false, multi, false},     {"exec", 1, false, exec, false},
        {"discard", 1, false, discard, false}, {"watch", -2, false, watch, false},
        {"unwatch", 1, false, unwatch},
    };
}

}  // namespace meridian::node
