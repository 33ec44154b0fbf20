// A small blocking HTTP/1.1 client (Beast) for tests: one request per connection to 127.0.0.1.
#pragma once

#include <cstdint>
#include <map>
#include <ostream>
#include <string>

namespace meridian::test {

struct HttpReply {
    int status = 0;  // 0: no answer
    std::string body;
    std::map<std::string, std::string> headers;
    std::string error;

    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? "" : it->second;
    }
};

std::ostream& operator<<(std::ostream& out, const HttpReply& reply);

HttpReply http_get(std::uint16_t port, const std::string& target);
// POSTs `body` as application/json.
HttpReply http_post(std::uint16_t port, const std::string& target, const std::string& body);

}  // namespace meridian::test
