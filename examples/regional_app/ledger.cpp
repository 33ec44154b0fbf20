#include "ledger.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <cerrno>
#include <charconv>
#include <optional>
#include <vector>

namespace meridian::regional_app {

namespace {

timeval to_timeval(int ms) {
    return timeval{ms / 1000, (ms % 1000) * 1000};
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

std::optional<std::int64_t> parse_integer(std::string_view text) {
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

// The part of a reply the ledger uses.
struct Ledger::Answer {
    enum class Kind { text, integer, nil } kind;
    std::string text;
    long long integer = 0;
};

void Ledger::Free::operator()(redisContext* context) const {
    redisFree(context);
}

Ledger::Ledger(LedgerConfig config) : config_(std::move(config)) {}
Ledger::~Ledger() = default;

std::string Ledger::key_of(std::string_view account) const {
    std::string key = config_.key_pattern;
    for (auto at = key.find("{id}"); at != std::string::npos;
         at = key.find("{id}", at + account.size())) {
        key.replace(at, 4, account);
    }
    return key;
}

Expected<Ledger::Answer, LedgerError> Ledger::run(std::initializer_list<std::string_view> argv) {
    using Kind = LedgerError::Kind;
    if (!context_) {
        context_.reset(redisConnectWithTimeout(config_.host.c_str(), config_.port,
                                               to_timeval(config_.timeout_ms)));
        if (!context_ || context_->err) {
            std::string why = context_ ? context_->errstr : "out of memory";
            context_.reset();
            return unexpected(LedgerError{Kind::unreachable,
                                          "cannot connect to the node at " + config_.host + ":" +
                                              std::to_string(config_.port) + ": " + why});
        }
        redisSetTimeout(context_.get(), to_timeval(config_.timeout_ms));
    }
    std::vector<const char*> args;
    std::vector<std::size_t> lengths;
    for (std::string_view a : argv) {
        args.push_back(a.data());
        lengths.push_back(a.size());
    }
    auto* reply = static_cast<redisReply*>(redisCommandArgv(
        context_.get(), static_cast<int>(args.size()), args.data(), lengths.data()));
    if (!reply) {
        // The command was sent, so the node may have run it: the outcome is
        // unknown. The connection is unusable now; the next call reconnects.
        const bool timed_out =
            context_->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
        std::string why = timed_out
                              ? "no answer within " + std::to_string(config_.timeout_ms) + " ms"
                              : std::string(context_->errstr);
        context_.reset();
        return unexpected(LedgerError{
            Kind::outcome_unknown,
            "the node at " + config_.host + ":" + std::to_string(config_.port) + ": " + why});
    }
    std::unique_ptr<redisReply, void (*)(void*)> owned(reply, freeReplyObject);
    switch (reply->type) {
        case REDIS_REPLY_ERROR: {
            std::string message(reply->str, reply->len);
            const Kind kind = starts_with(message, "ERR insufficient balance")
                                  ? Kind::insufficient_balance
                              : starts_with(message, "TRYAGAIN") ? Kind::try_again
                              : starts_with(message, "TIMEOUT")  ? Kind::outcome_unknown
                                                                 : Kind::node_error;
            return unexpected(LedgerError{kind, std::move(message)});
        }
        case REDIS_REPLY_INTEGER:
            return Answer{Answer::Kind::integer, "", reply->integer};
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            return Answer{Answer::Kind::text, std::string(reply->str, reply->len), 0};
        case REDIS_REPLY_NIL:
            return Answer{Answer::Kind::nil, "", 0};
        default:
            return unexpected(LedgerError{Kind::node_error, "unexpected reply type"});
    }
}

Expected<std::int64_t, LedgerError> Ledger::add(std::string_view account, std::int64_t amount) {
    const std::string key = key_of(account);
    const std::string magnitude = std::to_string(amount < 0 ? -amount : amount);
    auto answer = run({amount < 0 ? "DECRBY" : "INCRBY", key, magnitude});
    if (!answer) return unexpected(answer.error());
    if (answer->kind != Answer::Kind::integer) {
        return unexpected(
            LedgerError{LedgerError::Kind::node_error, "INCRBY did not answer a number"});
    }
    return static_cast<std::int64_t>(answer->integer);
}

Expected<std::int64_t, LedgerError> Ledger::deposit(std::string_view account, std::int64_t amount) {
    return add(account, amount);
}

Expected<std::int64_t, LedgerError> Ledger::withdraw(std::string_view account,
                                                     std::int64_t amount) {
    return add(account, -amount);
}

Expected<std::int64_t, LedgerError> Ledger::balance(std::string_view account) {
    auto answer = run({"GET", key_of(account)});
    if (!answer) return unexpected(answer.error());
    if (answer->kind == Answer::Kind::nil)
        return std::int64_t{0};  // an account nobody paid into yet
    const auto value = answer->kind == Answer::Kind::text ? parse_integer(answer->text)
                                                          : std::optional<std::int64_t>();
    if (!value) {
        return unexpected(LedgerError{LedgerError::Kind::node_error,
                                      "the value of " + key_of(account) + " is not a number"});
    }
    return *value;
}

Expected<std::string, LedgerError> Ledger::region() {
    auto answer = run({"INFO", "server"});
    if (!answer) return unexpected(answer.error());
    const std::string_view info = answer->text;
    const auto at = info.find("\nregion:");
    if (at == std::string_view::npos) {
        return unexpected(
            LedgerError{LedgerError::Kind::node_error, "INFO server names no region"});
    }
    const auto begin = at + 8;
    return std::string(info.substr(begin, info.find_first_of("\r\n", begin) - begin));
}

bool valid_key_pattern(std::string_view pattern) {
    return pattern.find("{id}") != std::string_view::npos;
}

}  // namespace meridian::regional_app
