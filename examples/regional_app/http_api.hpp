// The app's HTTP API, socket-free: maps one request to one response using a
// Ledger. Called by a connection's thread with that connection's Ledger.
//
//   POST /accounts/{id}/deposit   {"amount": 25}  -> 200 {"account", "balance", "region"}
//   POST /accounts/{id}/withdraw  {"amount": 25}  -> 200, or 409 when the balance is too low
//   GET  /accounts/{id}                           -> 200 {"account", "balance", "region"}
//
// Errors: 400 bad id, body or amount; 404 unknown path; 405 wrong method;
// 409 insufficient balance; 503 + Retry-After while the account's home region
// is unreachable; 504 when the outcome is unknown (the home, or the local node,
// did not answer in time); 502 for any other error answer or when the node
// cannot be reached.
#pragma once

#include <boost/beast/http.hpp>
#include <string>

#include "ledger.hpp"

namespace meridian::regional_app {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

Response handle_request(const Request& request, Ledger& ledger, const std::string& region);

}  // namespace meridian::regional_app
