// RespParser: the incremental, socket-free RESP2 request parser (multibulk and inline), in the
// shape of Asio's HTTP request_parser. One parser per client connection, used only by the
// thread that owns that connection; it keeps partial requests itself, so callers drop bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::node {

struct RespLimits {
    std::size_t max_bulk_bytes = 64 * 1024 * 1024;  // largest single argument
    std::size_t max_args = 1024 * 1024;             // most arguments in one request
    std::size_t max_inline_bytes = 64 * 1024;       // longest inline (telnet-style) line,
                                                    // counting the bytes before its '\n'
};

class RespParser {
public:
    enum class Status { request, incomplete, protocol_error };
    struct Step {
        Status status;
        std::size_t consumed;
    };

    explicit RespParser(RespLimits limits = {});

    // Parses from `input` until one request completes (Status::request), all of `input` is
    // consumed (Status::incomplete) or the input breaks the protocol (Status::protocol_error:
    // the connection answers "-<error()>" and closes; every later call returns it again).
    // `consumed` counts the bytes used; a request always consumes at least one byte. Like
    // Redis, blank inline lines and "*0" or negative counts are skipped without a request.
    Step parse(std::string_view input);

    // The request just completed (argv[0] is the command name); valid until the next parse().
    // The caller may move the strings out.
    std::vector<std::string>& args() { return args_; }
    // Non-empty when the request just returned broke a limit (args() is empty); the caller
    // answers "-<limit_error()>" and keeps the connection. A multibulk request is refused as
    // soon as its header breaks the limit; later parse() calls skip the rest of its bytes.
    const std::string& limit_error() const { return limit_error_; }
    // Why parsing stopped, after Status::protocol_error.
    const std::string& error() const { return error_; }

private:
    enum class State : std::uint8_t {
        request_start,  // between requests
        inline_line,    // collecting a telnet-style line up to '\n'
        count_line,     // after '*': the argument count up to CRLF
        bulk_header,    // the '$' opening the next argument
        bulk_length,    // its length up to CRLF
        bulk_payload,   // the argument's bytes (kept or discarded)
        bulk_cr,        // the CR after the payload
        bulk_lf,        // the LF after the payload
        failed,         // a protocol error happened; the connection is closing
    };

    enum class LineResult : std::uint8_t { found, need_more, too_long };

    // Takes the bytes up to the next '\n' (excluded) from input[pos..], joined with what line_
    // kept from earlier calls; a line longer than max_bytes is refused without reading its end.
    LineResult take_line(std::string_view input, std::size_t& pos, std::size_t max_bytes,
                         std::string_view& line);
    void check_inline_limits();
    void fail(std::string message);
    void exceed(std::string message);

    RespLimits limits_;
    State state_ = State::request_start;
    bool request_done_ = false;  // args_ hold a finished request that the next parse() drops
    bool discarding_ = false;    // the current request broke a limit: skip, do not keep
    std::uint64_t args_left_ = 0;
    std::uint64_t payload_left_ = 0;
    std::string line_;  // a header or inline line split across parse() calls
    std::vector<std::string> args_;
    std::string limit_error_;
    std::string error_;
};

}  // namespace meridian::node
