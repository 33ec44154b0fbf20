// libFuzzer target for the RESP request parser. The first two bytes choose the limits and the
// chunking; the rest is the byte stream. Checks the step contract (consumed <= input, progress,
// sticky errors), that chunked and whole-buffer parsing agree, and that every request parsed
// re-encodes as multibulk and parses back to the same arguments.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "node/resp_parser.hpp"

using meridian::node::RespLimits;
using meridian::node::RespParser;

namespace {

struct Event {
    int kind;  // 0 request, 1 limit, 2 protocol error
    std::vector<std::string> args;
    std::string text;
    bool operator==(const Event&) const = default;
};

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "resp_parser_fuzz: %s\n", what);
    std::abort();
}

void check(bool ok, const char* what) {
    if (!ok) die(what);
}

// Feeds `bytes` in pieces whose sizes come from a small xorshift seeded by `seed` (seed 0:
// one piece), checking the Step contract on every call.
std::vector<Event> run(std::string_view bytes, const RespLimits& limits, std::uint32_t seed) {
    RespParser parser(limits);
    std::vector<Event> events;
    std::uint32_t state = seed | 1;
    std::size_t at = 0;
    while (at < bytes.size()) {
        std::size_t size = bytes.size() - at;
        if (seed != 0) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            size = std::min<std::size_t>(size, 1 + state % 17);
        }
        std::string_view chunk = bytes.substr(at, size);
        at += size;
        for (;;) {
            const RespParser::Step step = parser.parse(chunk);
            check(step.consumed <= chunk.size(), "consumed more than the input");
            chunk.remove_prefix(step.consumed);
            if (step.status == RespParser::Status::protocol_error) {
                check(!parser.error().empty(), "a protocol error without a message");
                const RespParser::Step again = parser.parse(bytes);
                check(again.status == RespParser::Status::protocol_error && again.consumed == 0,
                      "a protocol error was not final");
                events.push_back({2, {}, parser.error()});
                return events;
            }
            if (step.status == RespParser::Status::incomplete) {
                check(chunk.empty(), "incomplete before the input was used up");
                break;
            }
            check(step.consumed > 0, "a request that consumed nothing");
            if (parser.limit_error().empty()) {
                check(!parser.args().empty(), "a request without arguments");
                events.push_back({0, parser.args(), {}});
            } else {
                check(parser.args().empty(), "a skipped request kept arguments");
                events.push_back({1, {}, parser.limit_error()});
            }
        }
    }
    return events;
}

void check_round_trip(const std::vector<std::string>& args) {
    std::string bytes = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) bytes += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    RespParser parser;
    const RespParser::Step step = parser.parse(bytes);
    check(step.status == RespParser::Status::request && step.consumed == bytes.size(),
          "a re-encoded request did not parse");
    check(parser.args() == args, "a re-encoded request parsed differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    RespLimits limits;
    if (data[0] & 0x80) {  // tight limits, so the skip paths are reached often
        limits.max_bulk_bytes = data[0] & 0x0f;
        limits.max_args = (data[0] >> 4) & 0x07;
        limits.max_inline_bytes = data[1];
    }
    const std::uint32_t seed = data[1] + 1u;
    const std::string_view bytes(reinterpret_cast<const char*>(data) + 2, size - 2);

    const std::vector<Event> whole = run(bytes, limits, 0);
    const std::vector<Event> chunked = run(bytes, limits, seed);
    check(whole == chunked, "chunked parsing disagrees with whole-buffer parsing");
    for (const Event& e : whole) {
        if (e.kind == 0) check_round_trip(e.args);
    }
    return 0;
}
