#include "resp_client.hpp"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <charconv>

namespace meridian::demo {

namespace {

Reply convert(const redisReply* r) {
    Reply out;
    switch (r->type) {
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            out.kind = Reply::Kind::string;
            out.text.assign(r->str, r->len);
            break;
        case REDIS_REPLY_INTEGER:
            out.kind = Reply::Kind::integer;
            out.integer = r->integer;
            break;
        case REDIS_REPLY_ARRAY:
            out.kind = Reply::Kind::array;
            for (std::size_t i = 0; i < r->elements; ++i)
                out.elements.push_back(convert(r->element[i]));
            break;
        case REDIS_REPLY_ERROR:
            out.kind = Reply::Kind::error;
            out.text.assign(r->str, r->len);
            break;
        default:
            out.kind = Reply::Kind::nil;
    }
    return out;
}

timeval to_timeval(int ms) {
    return timeval{ms / 1000, (ms % 1000) * 1000};
}

}  // namespace

std::optional<std::int64_t> Reply::as_number() const {
    if (kind == Kind::integer) return integer;
    if (kind != Kind::string || text.empty()) return std::nullopt;
    std::int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

bool Reply::error_starts_with(std::string_view prefix) const {
    return kind == Kind::error && std::string_view(text).substr(0, prefix.size()) == prefix;
}

void RespClient::Free::operator()(redisContext* context) const {
    redisFree(context);
}

RespClient::RespClient(std::string host, std::uint16_t port, int timeout_ms)
    : host_(std::move(host)), port_(port), timeout_ms_(timeout_ms) {}
RespClient::~RespClient() = default;
RespClient::RespClient(RespClient&&) noexcept = default;
RespClient& RespClient::operator=(RespClient&&) noexcept = default;

bool RespClient::reconnect() {
    context_.reset(redisConnectWithTimeout(host_.c_str(), port_, to_timeval(timeout_ms_)));
    if (!context_ || context_->err) {
        last_error_ = context_ ? context_->errstr : "cannot allocate a hiredis context";
        context_.reset();
        return false;
    }
    redisSetTimeout(context_.get(), to_timeval(timeout_ms_));
    return true;
}

Reply RespClient::command(const std::vector<std::string>& argv) {
    if (!context_ && !reconnect()) return Reply{Reply::Kind::io_error, last_error_, 0, {}};
    std::vector<const char*> args;
    std::vector<std::size_t> lengths;
    for (const std::string& a : argv) {
        args.push_back(a.data());
        lengths.push_back(a.size());
    }
    auto* raw = static_cast<redisReply*>(redisCommandArgv(
        context_.get(), static_cast<int>(args.size()), args.data(), lengths.data()));
    if (!raw) {
        // hiredis leaves the context unusable after an I/O or protocol error.
        last_error_ = context_->errstr[0] ? context_->errstr : "connection lost";
        context_.reset();
        return Reply{Reply::Kind::io_error, last_error_, 0, {}};
    }
    Reply out = convert(raw);
    freeReplyObject(raw);
    return out;
}

}  // namespace meridian::demo
