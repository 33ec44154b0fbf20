// RESP2 reply encoding: each function appends one reply (or an array header) to `out`, the
// connection's write buffer. Stateless and allocation-free beyond `out` growing, so any thread
// may call them on a buffer it owns.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::node::resp {

// Status and error lines cannot carry CR or LF, so these turn them into spaces (as Redis does)
// rather than letting a message containing user input break the reply stream.
void simple(std::string& out, std::string_view s);  // +s\r\n
void error(std::string& out, std::string_view s);   // -s\r\n

void integer(std::string& out, std::int64_t v);   // :v\r\n
void bulk(std::string& out, std::string_view s);  // $len\r\ns\r\n (binary-safe)
void null_bulk(std::string& out);                 // $-1\r\n
void array(std::string& out, std::size_t n);      // *n\r\n; the caller appends the n items
void null_array(std::string& out);                // *-1\r\n

// One whole status or error reply, for a slot completed later (a ReplySlot takes a string).
std::string simple_reply(std::string_view s);
std::string error_reply(std::string_view s);

}  // namespace meridian::node::resp
