#include "node/resp_parser.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

namespace meridian::node {

namespace {

// "$<len>\r" or "*<count>\r" after the prefix: at most 20 characters of number plus the CR.
constexpr std::size_t kMaxNumberLine = 21;
// Untrusted lengths never size an allocation beyond what has arrived plus this much.
constexpr std::size_t kReserveSlack = 16 * 1024;
constexpr std::size_t kReserveArgs = 64;
// A request with more arguments than this does not pin its vector's capacity afterwards.
constexpr std::size_t kRetainedArgs = 4096;

// Redis's string2ll rules, so the same lengths are accepted: an optional '-', no leading zeros
// ("0" itself aside), no '+', no spaces, and the value must fit in 64 bits.
bool parse_number(std::string_view line, std::int64_t& out) {
    if (line.empty() || line.back() != '\r') return false;
    line.remove_suffix(1);
    if (line == "0") {
        out = 0;
        return true;
    }
    const bool negative = !line.empty() && line[0] == '-';
    if (negative) line.remove_prefix(1);
    if (line.empty() || line[0] < '1' || line[0] > '9') return false;
    // The caller bounds the line to 20 characters, but 20 digits can still overflow.
    std::uint64_t magnitude = 0;
    for (const char c : line) {
        if (c < '0' || c > '9') return false;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (magnitude > (UINT64_MAX - digit) / 10) return false;
        magnitude = magnitude * 10 + digit;
    }
    constexpr auto kMax = static_cast<std::uint64_t>(INT64_MAX);
    if (magnitude > kMax + (negative ? 1 : 0)) return false;
    out =
        negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
    return true;
}

// C isspace() in the "C" locale, which sdssplitargs uses to skip blanks.
bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

// Splits an inline line exactly as Redis's sdssplitargs does, quoting rules, escapes and its
// C-string view of the line (a NUL ends it) included, so telnet sessions behave identically.
// Returns false on unbalanced quotes or a closing quote glued to the next word.
bool split_inline(std::string_view line, std::vector<std::string>& out) {
    line = line.substr(0, std::min(line.size(), line.find('\0')));
    const std::size_t n = line.size();
    auto at = [&](std::size_t k) { return k < n ? line[k] : '\0'; };
    std::size_t i = 0;
    for (;;) {
        while (i < n && is_blank(line[i])) ++i;
        if (i == n) return true;
        std::string& word = out.emplace_back();
        bool in_double = false;
        bool in_single = false;
        for (bool done = false; !done;) {
            const char c = at(i);
            if (in_double) {
                if (c == '\\' && at(i + 1) == 'x' && is_hex(at(i + 2)) && is_hex(at(i + 3))) {
                    word.push_back(
                        static_cast<char>(hex_value(at(i + 2)) * 16 + hex_value(at(i + 3))));
                    i += 3;
                } else if (c == '\\' && at(i + 1) != '\0') {
                    ++i;
                    switch (line[i]) {
                        case 'n':
                            word.push_back('\n');
                            break;
                        case 'r':
                            word.push_back('\r');
                            break;
                        case 't':
                            word.push_back('\t');
                            break;
                        case 'b':
                            word.push_back('\b');
                            break;
                        case 'a':
                            word.push_back('\a');
                            break;
                        default:
                            word.push_back(line[i]);
                            break;
                    }
                } else if (c == '"') {
                    if (at(i + 1) != '\0' && !is_blank(at(i + 1))) return false;
                    done = true;
                } else if (c == '\0') {
                    return false;
                } else {
                    word.push_back(c);
                }
            } else if (in_single) {
                if (c == '\\' && at(i + 1) == '\'') {
                    ++i;
                    word.push_back('\'');
                } else if (c == '\'') {
                    if (at(i + 1) != '\0' && !is_blank(at(i + 1))) return false;
                    done = true;
                } else if (c == '\0') {
                    return false;
                } else {
                    word.push_back(c);
                }
            } else {
                switch (c) {
                    case ' ':
                    case '\n':
                    case '\r':
                    case '\t':
                    case '\0':
                        done = true;
                        break;
                    case '"':
                        in_double = true;
                        break;
                    case '\'':
                        in_single = true;
                        break;
                    default:
                        word.push_back(c);
                        break;
                }
            }
            if (i < n) ++i;
        }
    }
}

}  // namespace

RespParser::RespParser(RespLimits limits) : limits_(limits) {}

RespParser::Step RespParser::parse(std::string_view input) {
    if (state_ == State::failed) return {Status::protocol_error, 0};
    if (request_done_) {
        request_done_ = false;
        if (args_.capacity() > kRetainedArgs) {
            std::vector<std::string>().swap(args_);
        } else {
            args_.clear();
        }
        limit_error_.clear();
    }

    std::size_t pos = 0;
    const auto failed = [&] { return Step{Status::protocol_error, pos}; };
    const auto completed = [&] {
        state_ = State::request_start;
        request_done_ = true;
        return Step{Status::request, pos};
    };
    // A multibulk request over a limit is answered as soon as its header shows it, not after
    // its body: a client announcing 1 GB learns at once, and the body is skipped as it comes.
    const auto refused_early = [&] {
        request_done_ = true;
        return Step{Status::request, pos};
    };

    while (pos < input.size()) {
        switch (state_) {
            case State::request_start:
                discarding_ = false;
                if (input[pos] == '*') {
                    ++pos;
                    state_ = State::count_line;
                } else {
                    state_ = State::inline_line;
                }
                break;

            case State::inline_line: {
                std::string_view line;
                switch (take_line(input, pos, limits_.max_inline_bytes, line)) {
                    case LineResult::need_more:
                        return {Status::incomplete, pos};
                    case LineResult::too_long:
                        fail("ERR Protocol error: too big inline request");
                        return failed();
                    case LineResult::found:
                        break;
                }
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                const bool balanced = split_inline(line, args_);
                line_.clear();
                if (!balanced) {
                    fail("ERR Protocol error: unbalanced quotes in request");
                    return failed();
                }
                if (args_.empty()) {  // a blank line, as telnet users send
                    state_ = State::request_start;
                    break;
                }
                check_inline_limits();
                return completed();
            }

            case State::count_line: {
                std::string_view line;
                std::int64_t count = 0;
                const LineResult result = take_line(input, pos, kMaxNumberLine, line);
                if (result == LineResult::need_more) return {Status::incomplete, pos};
                if (result == LineResult::too_long || !parse_number(line, count)) {
                    fail("ERR Protocol error: invalid multibulk length");
                    return failed();
                }
                line_.clear();
                if (count <= 0) {  // Redis skips "*0" and every negative count silently
                    state_ = State::request_start;
                    break;
                }
                args_left_ = static_cast<std::uint64_t>(count);
                state_ = State::bulk_header;
                if (args_left_ > limits_.max_args) {
                    exceed("ERR too many arguments: " + std::to_string(args_left_) +
                           " exceeds max_args (" + std::to_string(limits_.max_args) + ")");
                    return refused_early();
                }
                args_.reserve(std::min<std::uint64_t>(args_left_, kReserveArgs));
                break;
            }

            case State::bulk_header:
                if (input[pos] != '$') {
                    fail(std::string("ERR Protocol error: expected '$', got '") + input[pos] + "'");
                    return failed();
                }
                ++pos;
                state_ = State::bulk_length;
                break;

            case State::bulk_length: {
                std::string_view line;
                std::int64_t length = 0;
                const LineResult result = take_line(input, pos, kMaxNumberLine, line);
                if (result == LineResult::need_more) return {Status::incomplete, pos};
                if (result == LineResult::too_long || !parse_number(line, length) || length < 0) {
                    fail("ERR Protocol error: invalid bulk length");
                    return failed();
                }
                line_.clear();
                payload_left_ = static_cast<std::uint64_t>(length);
                if (payload_left_ > limits_.max_bulk_bytes && !discarding_) {
                    exceed("ERR bulk length " + std::to_string(payload_left_) +
                           " exceeds max_bulk_bytes (" + std::to_string(limits_.max_bulk_bytes) +
                           ")");
                    state_ = payload_left_ > 0 ? State::bulk_payload : State::bulk_cr;
                    return refused_early();
                }
                const std::size_t arrived = input.size() - pos;
                if (!discarding_ && arrived >= payload_left_ + 2 &&
                    input[pos + payload_left_] == '\r' && input[pos + payload_left_ + 1] == '\n') {
                    // The common case, the whole argument already here: one copy, no states.
                    args_.emplace_back(input.data() + pos, payload_left_);
                    pos += payload_left_ + 2;
                    if (--args_left_ > 0) {
                        state_ = State::bulk_header;
                        break;
                    }
                    return completed();
                }
                if (!discarding_) {
                    args_.emplace_back().reserve(
                        std::min<std::uint64_t>(payload_left_, arrived + kReserveSlack));
                }
                state_ = payload_left_ > 0 ? State::bulk_payload : State::bulk_cr;
                break;
            }

            case State::bulk_payload: {
                const std::size_t n = static_cast<std::size_t>(
                    std::min<std::uint64_t>(payload_left_, input.size() - pos));
                if (!discarding_) args_.back().append(input.data() + pos, n);
                pos += n;
                payload_left_ -= n;
                if (payload_left_ == 0) state_ = State::bulk_cr;
                break;
            }

            case State::bulk_cr:
            case State::bulk_lf:
                if (input[pos] != (state_ == State::bulk_cr ? '\r' : '\n')) {
                    fail("ERR Protocol error: bulk data not followed by CRLF");
                    return failed();
                }
                ++pos;
                if (state_ == State::bulk_cr) {
                    state_ = State::bulk_lf;
                    break;
                }
                if (--args_left_ > 0) {
                    state_ = State::bulk_header;
                    break;
                }
                if (discarding_) {  // answered when the limit was seen; on to the next one
                    state_ = State::request_start;
                    break;
                }
                return completed();

            case State::failed:
                return failed();
        }
    }
    return {Status::incomplete, pos};
}

RespParser::LineResult RespParser::take_line(std::string_view input, std::size_t& pos,
                                             std::size_t max_bytes, std::string_view& line) {
    // Look no further than one byte past the limit: a longer line is refused without waiting
    // for its end, so a peer cannot make us buffer an endless line.
    const std::size_t room = max_bytes - line_.size();  // line_ never holds more than max_bytes
    std::size_t window = input.size() - pos;
    const bool capped = window > room;
    if (capped) window = room + 1;
    const char* start = input.data() + pos;
    const auto* newline = static_cast<const char*>(std::memchr(start, '\n', window));
    if (newline == nullptr) {
        if (capped) return LineResult::too_long;
        line_.append(start, window);
        pos += window;
        return LineResult::need_more;
    }
    const std::size_t length = static_cast<std::size_t>(newline - start);
    pos += length + 1;
    if (line_.empty()) {
        line = std::string_view(start, length);
    } else {
        line_.append(start, length);
        line = line_;
    }
    return LineResult::found;
}

void RespParser::check_inline_limits() {
    if (args_.size() > limits_.max_args) {
        exceed("ERR too many arguments: " + std::to_string(args_.size()) + " exceeds max_args (" +
               std::to_string(limits_.max_args) + ")");
        return;
    }
    for (const std::string& arg : args_) {
        if (arg.size() > limits_.max_bulk_bytes) {
            exceed("ERR bulk length " + std::to_string(arg.size()) + " exceeds max_bulk_bytes (" +
                   std::to_string(limits_.max_bulk_bytes) + ")");
            return;  // exceed() emptied args_: `arg` is gone
        }
    }
}

void RespParser::fail(std::string message) {
    state_ = State::failed;
    error_ = std::move(message);
    line_ = std::string();
    args_.clear();
}

void RespParser::exceed(std::string message) {
    if (!discarding_) limit_error_ = std::move(message);
    discarding_ = true;
    args_.clear();
}

}  // namespace meridian::node
