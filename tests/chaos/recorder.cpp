#include "recorder.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

namespace meridian::chaos {

std::uint64_t wall_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

Outcome classify(const test::Reply& reply) {
    if (reply.is_io_error()) return Outcome::unknown;
    if (!reply.is_error()) return Outcome::ok;
    std::string text = reply.error_message();
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    // -TIMEOUT: a forwarded write the home did not answer in time may still be applied there.
    const bool open = text.starts_with("timeout") || text.starts_with("misconf") ||
                      text.find("internal error") != std::string::npos ||
                      text.find("unknown") != std::string::npos ||
                      text.find("outcome") != std::string::npos;
    return open ? Outcome::unknown : Outcome::failed;
}

namespace {

std::optional<std::int64_t> parse_number(const test::Reply& reply) {
    if (reply.is_integer()) return reply.as_integer();
    if (reply.is_nil()) return 0;
    if (!reply.is_string()) return std::nullopt;
    const std::string& s = reply.as_string();
    std::int64_t n = 0;
    auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (error != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return n;
}

}  // namespace

Recorder::Recorder(std::string client, std::string region, std::uint16_t port, int timeout_ms)
    : client_(std::move(client)),
      region_(std::move(region)),
      port_(port),
      timeout_ms_(timeout_ms) {}

bool Recorder::ensure_connected() {
    if (connection_ && connection_->connected()) return true;
    connection_.reset();
    auto connected = test::RedisClient::connect(port_, timeout_ms_);
    if (!connected) return false;
    connection_.emplace(std::move(*connected));
    return true;
}

std::optional<test::Reply> Recorder::run(std::vector<std::string> argv, Op& op) {
    if (!ensure_connected()) {
        ++unsent_;
        return std::nullopt;
    }
    op.region = region_;
    op.client = client_;
    op.invoked_ms = wall_ms();
    test::Reply reply = connection_->command(std::move(argv));
    op.completed_ms = wall_ms();
    op.outcome = classify(reply);
    if (reply.is_error() || reply.is_io_error()) op.error = reply.error_message();
    return reply;
}

std::optional<Outcome> Recorder::write(Op op, std::vector<std::string> argv) {
    auto reply = run(std::move(argv), op);
    if (!reply) return std::nullopt;
    // A counter's answer is its new value: for a bounded counter, a read the checker judges.
    if (op.kind == OpKind::add && op.outcome == Outcome::ok) op.number = parse_number(*reply);
    const Outcome outcome = op.outcome;
    history_.push_back(std::move(op));
    return outcome;
}

std::optional<Outcome> Recorder::add(const std::string& key, std::int64_t amount) {
    Op op;
    op.kind = OpKind::add;
    op.key = key;
    op.amount = amount;
    // Both spellings, so DECRBY's path is exercised too.
    if (amount < 0 && (history_.size() % 2 == 0))
        return write(std::move(op), {"DECRBY", key, std::to_string(-amount)});
    return write(std::move(op), {"INCRBY", key, std::to_string(amount)});
}

std::optional<Outcome> Recorder::field_add(const std::string& key, const std::string& field,
                                           std::int64_t amount) {
    Op op;
    op.kind = OpKind::field_add;
    op.key = key;
    op.field = field;
    op.amount = amount;
    return write(std::move(op), {"HINCRBY", key, field, std::to_string(amount)});
}

std::optional<Outcome> Recorder::field_assign(const std::string& key, const std::string& field,
                                              const std::string& value) {
    Op op;
    op.kind = OpKind::field_assign;
    op.key = key;
    op.field = field;
    op.element = value;
    return write(std::move(op), {"HSET", key, field, value});
}

std::optional<Outcome> Recorder::set_add(const std::string& key, const std::string& element) {
    Op op;
    op.kind = OpKind::set_add;
    op.key = key;
    op.element = element;
    return write(std::move(op), {"SADD", key, element});
}

std::optional<Outcome> Recorder::set_remove(const std::string& key, const std::string& element) {
    Op op;
    op.kind = OpKind::set_remove;
    op.key = key;
    op.element = element;
    return write(std::move(op), {"SREM", key, element});
}

std::optional<Outcome> Recorder::assign(const std::string& key, const std::string& value) {
    Op op;
    op.kind = OpKind::assign;
    op.key = key;
    op.element = value;
    return write(std::move(op), {"SET", key, value});
}

std::optional<Outcome> Recorder::assign_expiring(const std::string& key, const std::string& value,
                                                 std::uint64_t ttl_ms) {
    Op op;
    op.kind = OpKind::assign_expiring;
    op.key = key;
    op.element = value;
    op.ttl_ms = ttl_ms;
    return write(std::move(op), {"SET", key, value, "PX", std::to_string(ttl_ms)});
}

std::optional<std::int64_t> Recorder::read_number(const std::string& key) {
    Op op;
    op.kind = OpKind::read_number;
    op.key = key;
    auto reply = run({"GET", key}, op);
    if (!reply || op.outcome != Outcome::ok) return std::nullopt;
    op.number = parse_number(*reply);
    if (!op.number) return std::nullopt;
    const auto value = op.number;
    history_.push_back(std::move(op));
    return value;
}

std::optional<std::vector<std::string>> Recorder::read_set(const std::string& key) {
    Op op;
    op.kind = OpKind::read_set;
    op.key = key;
    auto reply = run({"SMEMBERS", key}, op);
    if (!reply || op.outcome != Outcome::ok || !reply->is_array()) return std::nullopt;
    for (const test::Reply& member : reply->as_array()) op.members.push_back(member.as_string());
    std::sort(op.members.begin(), op.members.end());
    auto members = op.members;
    history_.push_back(std::move(op));
    return members;
}

std::optional<bool> Recorder::is_member(const std::string& key, const std::string& element) {
    if (!ensure_connected()) return std::nullopt;
    test::Reply reply = connection_->command({"SISMEMBER", key, element});
    if (!reply.is_integer()) return std::nullopt;
    return reply.as_integer() == 1;
}

}  // namespace meridian::chaos
