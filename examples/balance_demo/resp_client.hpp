// RespClient: one blocking connection to a region's node (hiredis), as each
// demo client thread holds its own. Not thread-safe: one thread per client.
// Replies are plain values; a lost connection is a reply too (Kind::io_error).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisContext;

namespace meridian::demo {

struct Reply {
    enum class Kind { string, integer, nil, array, error, io_error };
    Kind kind = Kind::nil;
    std::string text;             // string, status, error or io_error message
    std::int64_t integer = 0;     // integer
    std::vector<Reply> elements;  // array

    bool is_error() const { return kind == Kind::error; }
    bool is_io_error() const { return kind == Kind::io_error; }
    // An integer reply, or a string holding a whole decimal number.
    std::optional<std::int64_t> as_number() const;
    // "ERR insufficient balance ..." starts with "ERR insufficient".
    bool error_starts_with(std::string_view prefix) const;
};

class RespClient {
public:
    // An unconnected client: every command answers io_error until reconnect() succeeds.
    RespClient(std::string host, std::uint16_t port, int timeout_ms);
    ~RespClient();
    RespClient(RespClient&&) noexcept;
    RespClient& operator=(RespClient&&) noexcept;

    // (Re)opens the connection; false (and last_error()) if it cannot.
    bool reconnect();
    bool connected() const { return context_ != nullptr; }
    const std::string& last_error() const { return last_error_; }

    // Runs one command given as arguments (binary safe). After an I/O error the
    // connection is closed; the next command reconnects first.
    Reply command(const std::vector<std::string>& argv);

private:
    struct Free {
        void operator()(redisContext* context) const;
    };

    std::string host_;
    std::uint16_t port_;
    int timeout_ms_;
    std::unique_ptr<redisContext, Free> context_;
    std::string last_error_;
};

}  // namespace meridian::demo
