#include "node/resp_reply.hpp"

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>

namespace resp = meridian::node::resp;
using namespace std::string_literals;

namespace {

std::string encode_integer(std::int64_t v) {
    std::string out;
    resp::integer(out, v);
    return out;
}

}  // namespace

TEST_CASE("simple strings and errors are one line with CR and LF turned into spaces") {
    std::string out;
    resp::simple(out, "OK");
    CHECK(out == "+OK\r\n");
    out.clear();
    resp::simple(out, "a\r\nb\nc\rd");
    CHECK(out == "+a  b c d\r\n");
    out.clear();
    resp::error(out, "ERR unknown command 'x\r\ny'");
    CHECK(out == "-ERR unknown command 'x  y'\r\n");
    out.clear();
    resp::simple(out, "");
    CHECK(out == "+\r\n");
}

TEST_CASE("replies append to what the buffer already holds") {
    std::string out = "+PONG\r\n";
    resp::error(out, "bad\nline");
    CHECK(out == "+PONG\r\n-bad line\r\n");  // the earlier reply's CRLF is untouched
}

TEST_CASE("integers cover the whole 64-bit range") {
    CHECK(encode_integer(0) == ":0\r\n");
    CHECK(encode_integer(42) == ":42\r\n");
    CHECK(encode_integer(-7) == ":-7\r\n");
    CHECK(encode_integer(std::numeric_limits<std::int64_t>::max()) == ":9223372036854775807\r\n");
    CHECK(encode_integer(std::numeric_limits<std::int64_t>::min()) == ":-9223372036854775808\r\n");
    rc::prop("an integer reply reads back as the same number", [](std::int64_t v) {
        const std::string out = encode_integer(v);
        RC_ASSERT(out == ":" + std::to_string(v) + "\r\n");
    });
}

TEST_CASE("bulk strings are length-prefixed and binary safe") {
    std::string out;
    resp::bulk(out, "hello");
    CHECK(out == "$5\r\nhello\r\n");
    out.clear();
    resp::bulk(out, "");
    CHECK(out == "$0\r\n\r\n");
    out.clear();
    resp::bulk(out, "a\r\n\0b"s);
    CHECK(out == "$5\r\na\r\n\0b\r\n"s);
    rc::prop("a bulk reply carries the exact bytes", [](const std::string& s) {
        std::string encoded;
        resp::bulk(encoded, s);
        RC_ASSERT(encoded == "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n");
    });
}

TEST_CASE("nulls and array headers follow RESP2") {
    std::string out;
    resp::null_bulk(out);
    resp::null_array(out);
    resp::array(out, 0);
    resp::array(out, 2);
    resp::bulk(out, "a");
    resp::integer(out, 1);
    CHECK(out == "$-1\r\n*-1\r\n*0\r\n*2\r\n$1\r\na\r\n:1\r\n");
    out.clear();
    resp::array(out, std::numeric_limits<std::size_t>::max());
    CHECK(out == "*" + std::to_string(std::numeric_limits<std::size_t>::max()) + "\r\n");
}
