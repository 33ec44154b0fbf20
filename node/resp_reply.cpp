#include "node/resp_reply.hpp"

#include <algorithm>
#include <charconv>

namespace meridian::node::resp {

namespace {

void line(std::string& out, char type, std::string_view s) {
    const std::size_t start = out.size() + 1;
    out.push_back(type);
    out.append(s);
    std::replace_if(
        out.begin() + static_cast<std::ptrdiff_t>(start), out.end(),
        [](char c) { return c == '\r' || c == '\n'; }, ' ');
    out.append("\r\n");
}

template <class Int>
void header(std::string& out, char type, Int v) {
    char buf[24];  // a type byte, a sign and 20 digits fit
    buf[0] = type;
    auto [end, ec] = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v);
    (void)ec;  // cannot fail: every 64-bit value fits
    *end++ = '\r';
    *end++ = '\n';
    out.append(buf, static_cast<std::size_t>(end - buf));
}

}  // namespace

void simple(std::string& out, std::string_view s) {
    line(out, '+', s);
}

void error(std::string& out, std::string_view s) {
    line(out, '-', s);
}

void integer(std::string& out, std::int64_t v) {
    header(out, ':', v);
}

void bulk(std::string& out, std::string_view s) {
    header(out, '$', s.size());
    out.append(s);
    out.append("\r\n");
}

void null_bulk(std::string& out) {
    out.append("$-1\r\n");
}

void array(std::string& out, std::size_t n) {
    header(out, '*', n);
}

void null_array(std::string& out) {
    out.append("*-1\r\n");
}

std::string simple_reply(std::string_view s) {
    std::string out;
    simple(out, s);
    return out;
}

std::string error_reply(std::string_view s) {
    std::string out;
    error(out, s);
    return out;
}

}  // namespace meridian::node::resp
