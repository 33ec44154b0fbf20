#include "node/backup_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <istream>
#include <vector>

#include "node/client_server.hpp"

namespace meridian::node {

namespace {

using boost::asio::ip::tcp;

std::string command(const std::vector<std::string>& args) {
    std::string out = "*" + std::to_string(args.size()) + "\r\n";
    for (const std::string& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return out;
}

// The first line of the answer: both replies expected here are one line.
Expected<std::string, std::string> call(tcp::socket& socket, boost::asio::streambuf& buffer,
                                        const std::vector<std::string>& args) {
    boost::system::error_code error;
    boost::asio::write(socket, boost::asio::buffer(command(args)), error);
    if (!error) boost::asio::read_until(socket, buffer, "\r\n", error);
    if (error) return unexpected("connection lost: " + error.message());
    std::istream in(&buffer);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line[0] != '+' && line[0] != '-')) return unexpected("unexpected answer: " + line);
    if (line[0] == '-') return unexpected(line.substr(1));
    return line.substr(1);
}

}  // namespace

Expected<std::string, std::string> request_backup(const std::string& client_listen, const std::string& password,
                                                  const std::string& dir) {
    auto endpoint = listen_endpoint(client_listen);
    if (!endpoint) return unexpected(endpoint.error());
    boost::asio::io_context io;
    tcp::socket socket(io);
    boost::system::error_code error;
    socket.connect(*endpoint, error);
    if (error) return unexpected("cannot connect to " + client_listen + ": " + error.message());
    boost::asio::streambuf buffer;
    if (!password.empty())
        if (auto auth = call(socket, buffer, {"AUTH", password}); !auth) return unexpected(auth.error());
    return call(socket, buffer, {"MERIDIAN", "BACKUP", dir});
}

}  // namespace meridian::node
