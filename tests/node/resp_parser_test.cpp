#include "node/resp_parser.hpp"

#include <rapidcheck/catch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define MERIDIAN_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MERIDIAN_TEST_ASAN 1
#endif
#endif

#ifdef MERIDIAN_TEST_ASAN
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

using meridian::node::RespLimits;
using meridian::node::RespParser;
using namespace std::string_literals;

namespace {

using Status = RespParser::Status;

// What the parser reported, in order: a request's arguments, a request skipped for a limit,
// or the protocol error that ended the stream.
struct Event {
    enum class Kind { request, limit, error } kind;
    std::vector<std::string> args;
    std::string text;
    friend bool operator==(const Event&, const Event&) = default;
};

std::string escaped(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (c == '\r') {
            out += "\\r";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\\' || c == '"') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string describe(const std::vector<Event>& events) {
    std::string out;
    for (const Event& e : events) {
        switch (e.kind) {
            case Event::Kind::request:
                out += "request [";
                for (const std::string& a : e.args) out += " \"" + escaped(a) + "\"";
                out += " ]\n";
                break;
            case Event::Kind::limit:
                out += "limit: " + e.text + "\n";
                break;
            case Event::Kind::error:
                out += "error: " + escaped(e.text) + "\n";
                break;
        }
    }
    return out;
}

Event request(std::vector<std::string> args) {
    return {Event::Kind::request, std::move(args), {}};
}
Event limit(std::string text) {
    return {Event::Kind::limit, {}, std::move(text)};
}
Event error(std::string text) {
    return {Event::Kind::error, {}, std::move(text)};
}

// Feeds the chunks in order the way a connection does: parse, drop what was consumed, parse
// the rest. Checks the step invariants on the way; stops at a protocol error.
std::vector<Event> feed(RespParser& parser, const std::vector<std::string_view>& chunks) {
    std::vector<Event> events;
    for (std::string_view chunk : chunks) {
        while (true) {
            const RespParser::Step step = parser.parse(chunk);
            // Plain ifs: this runs per chunk, and Catch assertions are slow under sanitizers.
            if (step.consumed > chunk.size())
                FAIL("consumed " << step.consumed << " of " << chunk.size());
            chunk.remove_prefix(step.consumed);
            if (step.status == Status::protocol_error) {
                events.push_back(error(parser.error()));
                return events;
            }
            if (step.status == Status::incomplete) {
                if (!chunk.empty()) FAIL("incomplete with " << chunk.size() << " bytes unread");
                break;
            }
            if (step.consumed == 0) FAIL("a request that consumed nothing");
            if (parser.limit_error().empty()) {
                events.push_back(request(parser.args()));
            } else {
                if (!parser.args().empty()) FAIL("a skipped request kept arguments");
                events.push_back(limit(parser.limit_error()));
            }
        }
    }
    return events;
}

std::vector<Event> feed_whole(std::string_view bytes, RespLimits limits = {}) {
    RespParser parser(limits);
    return feed(parser, {bytes});
}

std::vector<Event> feed_in_pieces(std::string_view bytes, std::size_t piece,
                                  RespLimits limits = {}) {
    std::vector<std::string_view> chunks;
    for (std::size_t i = 0; i < bytes.size(); i += piece) chunks.push_back(bytes.substr(i, piece));
    RespParser parser(limits);
    return feed(parser, chunks);
}

std::string multibulk(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

// Checks that whole-buffer, byte-by-byte and two-piece splits of `bytes` report `expected`: every
// split point of short inputs, 64 evenly spread ones of long inputs (all would be quadratic).
void check_every_split(std::string_view bytes, const std::vector<Event>& expected,
                       RespLimits limits = {}) {
    INFO("input: \"" << escaped(bytes) << "\"");
    INFO("expected:\n" << describe(expected));
    const std::vector<Event> whole = feed_whole(bytes, limits);
    INFO("whole buffer gave:\n" << describe(whole));
    REQUIRE(whole == expected);
    const std::vector<Event> bytewise = feed_in_pieces(bytes, 1, limits);
    INFO("one byte at a time gave:\n" << describe(bytewise));
    REQUIRE(bytewise == expected);
    const std::size_t stride = bytes.size() <= 1024 ? 1 : bytes.size() / 64;
    for (std::size_t at = 0; at <= bytes.size(); at += stride) {
        RespParser parser(limits);
        const std::vector<Event> split = feed(parser, {bytes.substr(0, at), bytes.substr(at)});
        INFO("split at " << at << " gave:\n" << describe(split));
        REQUIRE(split == expected);
    }
}

std::size_t heap_in_use() {
#ifdef MERIDIAN_TEST_ASAN
    return __sanitizer_get_current_allocated_bytes();
#else
    const struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
#endif
}

}  // namespace

TEST_CASE("a multibulk request yields its arguments") {
    RespParser parser;
    const std::string bytes = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    const RespParser::Step step = parser.parse(bytes);
    REQUIRE(step.status == Status::request);
    CHECK(step.consumed == bytes.size());
    CHECK(parser.args() == std::vector<std::string>{"SET", "key", "value"});
    CHECK(parser.limit_error().empty());
}

TEST_CASE("pipelined requests in one buffer come out one at a time") {
    RespParser parser;
    const std::string first = multibulk({"GET", "a"});
    const std::string second = multibulk({"INCR", "counter"});
    const std::string third = "PING\r\n";
    const std::string bytes = first + second + third;
    std::string_view rest = bytes;

    RespParser::Step step = parser.parse(rest);
    REQUIRE(step.status == Status::request);
    CHECK(step.consumed == first.size());
    CHECK(parser.args() == std::vector<std::string>{"GET", "a"});
    rest.remove_prefix(step.consumed);

    step = parser.parse(rest);
    REQUIRE(step.status == Status::request);
    CHECK(step.consumed == second.size());
    CHECK(parser.args() == std::vector<std::string>{"INCR", "counter"});
    rest.remove_prefix(step.consumed);

    step = parser.parse(rest);
    REQUIRE(step.status == Status::request);
    CHECK(step.consumed == third.size());
    CHECK(parser.args() == std::vector<std::string>{"PING"});
    rest.remove_prefix(step.consumed);

    step = parser.parse(rest);
    CHECK(step.status == Status::incomplete);
    CHECK(step.consumed == 0);
}

TEST_CASE("a partial request is kept inside the parser until it completes") {
    RespParser parser;
    const std::string bytes = multibulk({"SET", "k", "v"});
    const std::size_t half = bytes.size() / 2;
    const RespParser::Step first = parser.parse(std::string_view(bytes).substr(0, half));
    CHECK(first.status == Status::incomplete);
    CHECK(first.consumed == half);
    // The caller dropped the first half; only the rest is passed in.
    const RespParser::Step second = parser.parse(std::string_view(bytes).substr(half));
    REQUIRE(second.status == Status::request);
    CHECK(second.consumed == bytes.size() - half);
    CHECK(parser.args() == std::vector<std::string>{"SET", "k", "v"});
}

TEST_CASE("mixed inline and multibulk requests parse the same at every split point") {
    const std::string bytes = multibulk({"SET", "key", "value"}) + "PING\r\n" + "\r\n" + "*0\r\n" +
                              "*-1\r\n" + "  set  \"a b\" 'c d'  \n" +
                              multibulk({"ECHO", "a\r\nb\0c"s}) + multibulk({"SET", "", "x"}) +
                              "get \"\\x41\\n\"\r\n" + multibulk({"DEL", std::string(300, 'z')});
    check_every_split(bytes, {
                                 request({"SET", "key", "value"}),
                                 request({"PING"}),
                                 request({"set", "a b", "c d"}),
                                 request({"ECHO", "a\r\nb\0c"s}),
                                 request({"SET", "", "x"}),
                                 request({"get", "A\n"}),
                                 request({"DEL", std::string(300, 'z')}),
                             });
}

TEST_CASE("bulk values are binary safe") {
    std::string every_byte;
    for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
    const std::vector<std::string> args = {"SET", "\r\n", every_byte, "*1\r\n$3\r\n", "\0"s};
    check_every_split(multibulk(args), {request(args)});
}

TEST_CASE("inline commands split on blanks and honour quotes and escapes like Redis") {
    struct Case {
        std::string line;
        std::vector<std::string> args;
    };
    const std::vector<Case> cases = {
        {"PING\r\n", {"PING"}},
        {"PING\n", {"PING"}},
        {"set a b\r\n", {"set", "a", "b"}},
        {" \t set \t a   b \r\n", {"set", "a", "b"}},
        {"echo \"hello world\"\r\n", {"echo", "hello world"}},
        {"echo 'hello world'\r\n", {"echo", "hello world"}},
        {"echo \"\"\r\n", {"echo", ""}},
        {"echo ''\r\n", {"echo", ""}},
        {"echo \"\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", {"echo", "\n\r\t\b\a\\\"q"}},
        {"echo \"\\x00\\xff\\x4A\\x4g\"\r\n",
         {"echo",
          "\0\xff\x4a"
          "x4g"s}},
        {"echo 'it\\'s' 'a\\nb'\r\n", {"echo", "it's", "a\\nb"}},
        {"echo ab\"c d\"\r\n", {"echo", "abc d"}},
        {"echo a\\nb\r\n", {"echo", "a\\nb"}},
        {"echo a\rb\r\n", {"echo", "a", "b"}},
        {"echo a\vb\r\n", {"echo", "a\vb"}},
        {"echo \"a\"\tb\r\n", {"echo", "a", "b"}},
        {"echo hi\0 ignored\r\n"s, {"echo", "hi"}},
    };
    for (const Case& c : cases) check_every_split(c.line, {request(c.args)});
}

TEST_CASE("blank inline lines are skipped") {
    check_every_split("\r\n\n   \r\n\t\nPING\r\n", {request({"PING"})});
}

TEST_CASE("a zero or negative multibulk count produces no request and parsing continues") {
    // Redis skips every negative count, not just -1 (its protocol test "Negative multibulk
    // length" sends *-10 and expects the next PING to work).
    check_every_split("*0\r\n*-1\r\n*-10\r\n" + multibulk({"PING"}), {request({"PING"})});
}

TEST_CASE("protocol errors carry Redis's texts and end the stream") {
    const std::string bad_mbulk = "ERR Protocol error: invalid multibulk length";
    const std::string bad_bulk = "ERR Protocol error: invalid bulk length";
    const std::string no_crlf = "ERR Protocol error: bulk data not followed by CRLF";
    struct Case {
        std::string bytes;
        std::string error;
    };
    const std::vector<Case> cases = {
        {"*abc\r\n", bad_mbulk},
        {"*\r\n", bad_mbulk},
        {"*01\r\n", bad_mbulk},
        {"*-0\r\n", bad_mbulk},
        {"*+1\r\n", bad_mbulk},
        {"* 1\r\n", bad_mbulk},
        {"*1 \r\n", bad_mbulk},
        {"*1\n", bad_mbulk},
        {"*1\r\r\n", bad_mbulk},
        {"*1\rx\n", bad_mbulk},
        {"*-\r\n", bad_mbulk},
        {"*123456789012345678901\r\n", bad_mbulk},  // 21 digits
        {"*99999999999999999999\r\n", bad_mbulk},   // 20 digits, beyond 64 bits
        {"*9223372036854775808\r\n", bad_mbulk},    // one past INT64_MAX
        {"*1" + std::string(100, '0'), bad_mbulk},  // refused before the line ends
        {"*1\r\n$abc\r\n", bad_bulk},
        {"*1\r\n$\r\n", bad_bulk},
        {"*1\r\n$-1\r\n", bad_bulk},
        {"*1\r\n$-10\r\n", bad_bulk},
        {"*1\r\n$03\r\nfoo\r\n", bad_bulk},
        {"*1\r\n$3\n", bad_bulk},
        {"*1\r\n$1" + std::string(100, '1'), bad_bulk},
        {"*1\r\nfoo\r\n", "ERR Protocol error: expected '$', got 'f'"},
        {"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", "ERR Protocol error: expected '$', got 'f'"},
        {"*2\r\n$3\r\nGET\r\n*1\r\n", "ERR Protocol error: expected '$', got '*'"},
        {"*1\r\n$3\r\nfooX\r\n", no_crlf},
        {"*1\r\n$3\r\nfoo\rX", no_crlf},
        {"*1\r\n$3\r\nfoo\n", no_crlf},
        {"*1\r\n$0\r\nX", no_crlf},
        {"set \"a b\r\n", "ERR Protocol error: unbalanced quotes in request"},
        {"set 'a b\r\n", "ERR Protocol error: unbalanced quotes in request"},
        {"set \"a\"b\r\n", "ERR Protocol error: unbalanced quotes in request"},
        {"set 'a'b\r\n", "ERR Protocol error: unbalanced quotes in request"},
        {"set \"a\\\"\r\n", "ERR Protocol error: unbalanced quotes in request"},
        {"echo \"multi\r\nline\"\n", "ERR Protocol error: unbalanced quotes in request"},
        {"set \"\"\"test-key\"\"\" v\r\n", "ERR Protocol error: unbalanced quotes in request"},
    };
    for (const Case& c : cases) {
        check_every_split(c.bytes, {error(c.error)});
        check_every_split(multibulk({"PING"}) + c.bytes + multibulk({"PING"}),
                          {request({"PING"}), error(c.error)});
    }
}

TEST_CASE("a protocol error is final") {
    RespParser parser;
    REQUIRE(parser.parse("*x\r\n").status == Status::protocol_error);
    const RespParser::Step again = parser.parse(multibulk({"PING"}));
    CHECK(again.status == Status::protocol_error);
    CHECK(again.consumed == 0);
    CHECK(parser.error() == "ERR Protocol error: invalid multibulk length");
}

TEST_CASE("an inline line longer than max_inline_bytes is refused before its end arrives") {
    RespLimits limits;
    limits.max_inline_bytes = 16;
    // Counted up to the '\n': exactly 16 bytes pass, 17 do not.
    check_every_split(std::string(15, 'a') + "\r\n", {request({std::string(15, 'a')})}, limits);
    check_every_split(std::string(16, 'a') + "\n", {request({std::string(16, 'a')})}, limits);
    check_every_split(std::string(16, 'a') + "\r\n",
                      {error("ERR Protocol error: too big inline request")}, limits);

    RespParser parser(limits);
    const RespParser::Step step = parser.parse(std::string(17, 'a'));  // no newline yet
    CHECK(step.status == Status::protocol_error);
    CHECK(parser.error() == "ERR Protocol error: too big inline request");
}

TEST_CASE("the default inline limit is 64 KiB") {
    const std::string word(64 * 1024 - 2, 'w');
    check_every_split(word + "\r\n", {request({word})});
    CHECK(feed_whole(word + "xx\r\n") ==
          std::vector<Event>{error("ERR Protocol error: too big inline request")});
}

TEST_CASE("a bulk length above max_bulk_bytes skips the request and keeps parsing") {
    RespLimits limits;
    limits.max_bulk_bytes = 8;
    const std::string bytes = multibulk({"SET", "k", std::string(20, 'v')}) +
                              multibulk({"SET", "k", "12345678"}) +
                              multibulk({std::string(9, 'x'), std::string(30, 'y')}) + "PING\r\n";
    check_every_split(bytes,
                      {
                          limit("ERR bulk length 20 exceeds max_bulk_bytes (8)"),
                          request({"SET", "k", "12345678"}),
                          limit("ERR bulk length 9 exceeds max_bulk_bytes (8)"),
                          request({"PING"}),
                      },
                      limits);
}

TEST_CASE("a skipped bulk still needs its CRLF") {
    RespLimits limits;
    limits.max_bulk_bytes = 2;
    // The limit is answered when the length is read; the broken framing after the skipped
    // bytes still closes the connection.
    check_every_split("*1\r\n$5\r\nabcdeXY",
                      {limit("ERR bulk length 5 exceeds max_bulk_bytes (2)"),
                       error("ERR Protocol error: bulk data not followed by CRLF")},
                      limits);
}

TEST_CASE("too many arguments skip the request with their framing still checked") {
    RespLimits limits;
    limits.max_args = 2;
    check_every_split(multibulk({"MSET", "a", "1"}) + multibulk({"GET", "a"}) + "set a 1\r\n" +
                          multibulk({"PING"}),
                      {
                          limit("ERR too many arguments: 3 exceeds max_args (2)"),
                          request({"GET", "a"}),
                          limit("ERR too many arguments: 3 exceeds max_args (2)"),
                          request({"PING"}),
                      },
                      limits);
    check_every_split("*3\r\n$4\r\nMSET\r\n:1\r\n",
                      {limit("ERR too many arguments: 3 exceeds max_args (2)"),
                       error("ERR Protocol error: expected '$', got ':'")},
                      limits);
    check_every_split("*3\r\n$4\r\nMSET\r\n$x\r\n",
                      {limit("ERR too many arguments: 3 exceeds max_args (2)"),
                       error("ERR Protocol error: invalid bulk length")},
                      limits);
}

TEST_CASE("the first limit broken is the one reported") {
    RespLimits limits;
    limits.max_args = 2;
    limits.max_bulk_bytes = 4;
    check_every_split(multibulk({"GET", "toolong"}) + multibulk({"A", "B", "toolong"}),
                      {
                          limit("ERR bulk length 7 exceeds max_bulk_bytes (4)"),
                          limit("ERR too many arguments: 3 exceeds max_args (2)"),
                      },
                      limits);
}

TEST_CASE("inline requests obey the argument limits too") {
    RespLimits limits;
    limits.max_args = 2;
    limits.max_bulk_bytes = 3;
    check_every_split("a b c\r\nabcd\r\nab c\r\n",
                      {
                          limit("ERR too many arguments: 3 exceeds max_args (2)"),
                          limit("ERR bulk length 4 exceeds max_bulk_bytes (3)"),
                          request({"ab", "c"}),
                      },
                      limits);
}

TEST_CASE("a client that announces and sends 1 GB costs no memory") {
    RespParser parser;
    const std::size_t before = heap_in_use();
    // Refused as soon as the length is read, before any of the body.
    REQUIRE(parser.parse("*2\r\n$3\r\nSET\r\n$1000000000\r\n").status == Status::request);
    CHECK(parser.limit_error() == "ERR bulk length 1000000000 exceeds max_bulk_bytes (67108864)");
    CHECK(parser.args().empty());
    const std::string chunk(64 * 1024, 'x');
    std::size_t left = 1000000000;
    std::size_t peak = 0;
    while (left > 0) {
        const std::string_view piece =
            std::string_view(chunk).substr(0, std::min(left, chunk.size()));
        const RespParser::Step step = parser.parse(piece);
        REQUIRE(step.status == Status::incomplete);
        REQUIRE(step.consumed == piece.size());
        left -= piece.size();
        peak = std::max(peak, heap_in_use());
    }
    INFO("heap before " << before << ", peak while skipping " << peak);
    CHECK(peak < before + 1024 * 1024);

    const std::string rest = "\r\n" + multibulk({"PING"});
    const RespParser::Step step = parser.parse(rest);
    REQUIRE(step.status == Status::request);
    CHECK(step.consumed == rest.size());
    CHECK(parser.limit_error().empty());
    CHECK(parser.args() == std::vector<std::string>{"PING"});
}

TEST_CASE("announced lengths within the limits do not size allocations before bytes arrive") {
    const std::size_t before = heap_in_use();
    RespParser bulk_parser;
    REQUIRE(bulk_parser.parse("*1\r\n$67108864\r\n0123456789").status == Status::incomplete);
    RespParser count_parser;
    REQUIRE(count_parser.parse("*1000000\r\n$3\r\nGET\r\n").status == Status::incomplete);
    const std::size_t after = heap_in_use();
    INFO("heap before " << before << ", after " << after);
    CHECK(after < before + 1024 * 1024);
}

TEST_CASE("a huge argument count over the limit is refused as a limit, not a crash") {
    RespParser parser;
    // Refused at once; the request never ends (it would need 2^63 arguments), so the parser
    // just keeps skipping.
    const std::string header = "*9223372036854775807\r\n";
    const RespParser::Step refused = parser.parse(header + "$4\r\nPING\r\n");
    REQUIRE(refused.status == Status::request);
    CHECK(refused.consumed == header.size());
    CHECK(parser.limit_error() ==
          "ERR too many arguments: 9223372036854775807 exceeds max_args (1048576)");
    REQUIRE(parser.parse("$4\r\nPING\r\n").status == Status::incomplete);
    for (int i = 0; i < 1000; ++i) {
        const RespParser::Step step = parser.parse("$1\r\nx\r\n");
        REQUIRE(step.status == Status::incomplete);
    }
}

TEST_CASE("arguments may be moved out and the parser goes on") {
    RespParser parser;
    const std::string bytes = multibulk({"SET", std::string(100, 'k'), std::string(100, 'v')}) +
                              multibulk({"GET", std::string(100, 'k')});
    RespParser::Step step = parser.parse(bytes);
    REQUIRE(step.status == Status::request);
    std::vector<std::string> taken = std::move(parser.args());
    CHECK(taken.size() == 3);
    step = parser.parse(std::string_view(bytes).substr(step.consumed));
    REQUIRE(step.status == Status::request);
    CHECK(parser.args() == std::vector<std::string>{"GET", std::string(100, 'k')});
}

TEST_CASE("multibulk requests fed in random chunks come back exactly") {
    rc::prop("encoding argument vectors and feeding random chunks yields the same vectors", [] {
        // Half the default size: three nested containers of 100 grow to a million bytes.
        const auto requests = *rc::gen::scale(
            0.5, rc::gen::container<std::vector<std::vector<std::string>>>(
                     rc::gen::nonEmpty(rc::gen::container<std::vector<std::string>>(
                         rc::gen::container<std::string>(rc::gen::arbitrary<char>())))));
        std::string bytes;
        for (const auto& args : requests) bytes += multibulk(args);
        // Chunk sizes cycle through one generated list: drawing one per chunk is slow to shrink.
        const auto sizes = *rc::gen::nonEmpty(
            rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(1, 64)));
        std::vector<std::string_view> chunks;
        for (std::size_t at = 0, i = 0; at < bytes.size(); ++i) {
            const std::size_t size = sizes[i % sizes.size()];
            chunks.push_back(std::string_view(bytes).substr(at, size));
            at += size;
        }
        RespParser parser;
        const std::vector<Event> events = feed(parser, chunks);
        std::vector<Event> expected;
        for (const auto& args : requests) expected.push_back(request(args));
        RC_ASSERT(events == expected);
    });
}

TEST_CASE("arbitrary bytes parse the same however they are split") {
    rc::prop("whole-buffer and chunked parsing report the same events", [] {
        // Mostly protocol-shaped bytes, so the generator reaches deep states, plus noise.
        const auto pieces = *rc::gen::container<std::vector<std::string>>(
            rc::gen::oneOf(rc::gen::element<std::string>("*", "$", "\r\n", "\r", "\n", "*2\r\n",
                                                         "$3\r\n", "$0\r\n", "*-1\r\n", "abc", " ",
                                                         "\"", "'", "\\x4", "\\", "-", "0", "9"),
                           rc::gen::container<std::string>(rc::gen::arbitrary<char>())));
        std::string bytes;
        for (const std::string& p : pieces) bytes += p;
        RespLimits limits;
        limits.max_bulk_bytes = *rc::gen::inRange<std::size_t>(0, 12);
        limits.max_args = *rc::gen::inRange<std::size_t>(0, 6);
        limits.max_inline_bytes = *rc::gen::inRange<std::size_t>(0, 40);
        const std::size_t piece = *rc::gen::inRange<std::size_t>(1, 8);
        RC_ASSERT(feed_in_pieces(bytes, piece, limits) == feed_whole(bytes, limits));
    });
}
