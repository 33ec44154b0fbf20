#include "integration/http_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace meridian::test {

namespace {

namespace http = boost::beast::http;

HttpReply request(std::uint16_t port, http::verb method, const std::string& target,
                  const std::string& body = "") {
    HttpReply reply;
    try {
        boost::asio::io_context io;
        boost::asio::ip::tcp::socket socket(io);
        socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
        http::request<http::string_body> req(method, target, 11);
        req.set(http::field::host, "127.0.0.1");
        if (!body.empty()) req.set(http::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
        http::write(socket, req);
        boost::beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(socket, buffer, res);
        reply.status = static_cast<int>(res.result_int());
        reply.body = res.body();
        for (const auto& field : res) {
            reply.headers[std::string(field.name_string())] = std::string(field.value());
        }
    } catch (const std::exception& e) {
        reply.error = e.what();
    }
    return reply;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const HttpReply& reply) {
    return out << reply.status << " " << reply.body
               << (reply.error.empty() ? "" : " error: " + reply.error);
}

HttpReply http_get(std::uint16_t port, const std::string& target) {
    return request(port, http::verb::get, target);
}

HttpReply http_post(std::uint16_t port, const std::string& target, const std::string& body) {
    return request(port, http::verb::post, target, body);
}

}  // namespace meridian::test
