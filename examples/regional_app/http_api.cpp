#include "http_api.hpp"

#include <boost/property_tree/json_parser.hpp>
#include <boost/property_tree/ptree.hpp>
#include <charconv>
#include <optional>
#include <sstream>

namespace meridian::regional_app {

namespace {

namespace http = boost::beast::http;

constexpr std::int64_t max_amount = 1'000'000'000'000;  // far from overflowing a 64-bit balance

// Account ids go into keys and JSON unescaped, so they are kept plain.
bool valid_account(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return false;
    }
    return true;
}

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out + "\"";
}

Response reply(const Request& request, http::status status, std::string json) {
    Response response(status, request.version());
    response.set(http::field::content_type, "application/json");
    response.keep_alive(request.keep_alive());
    response.body() = std::move(json) + "\n";
    response.prepare_payload();
    return response;
}

Response error(const Request& request, http::status status, std::string_view message) {
    return reply(request, status, "{\"error\": " + json_string(message) + "}");
}

Response account_json(const Request& request, std::string_view id, std::int64_t balance,
                      const std::string& region) {
    return reply(request, http::status::ok,
                 "{\"account\": " + json_string(id) + ", \"balance\": " + std::to_string(balance) +
                     ", \"region\": " + json_string(region) + "}");
}

Response ledger_error(const Request& request, const LedgerError& e) {
    using Kind = LedgerError::Kind;
    switch (e.kind) {
        case Kind::insufficient_balance:
            return error(request, http::status::conflict, e.message);
        case Kind::try_again: {
            Response response = error(request, http::status::service_unavailable, e.message);
            response.set(http::field::retry_after, "1");
            return response;
        }
        case Kind::outcome_unknown:
            return error(request, http::status::gateway_timeout,
                         e.message + " (a deposit or withdrawal may or may not have been applied)");
        case Kind::node_error:
        case Kind::unreachable:
            return error(request, http::status::bad_gateway, e.message);
    }
    return error(request, http::status::internal_server_error, e.message);
}

// {"amount": 25}: a whole number from 1 to max_amount.
std::optional<std::int64_t> parse_amount(const std::string& body) {
    boost::property_tree::ptree tree;
    try {
        std::istringstream in(body);
        boost::property_tree::read_json(in, tree);
    } catch (const boost::property_tree::json_parser_error&) {
        return std::nullopt;
    }
    // The property tree keeps every JSON scalar as text, so 25 and "25" read alike.
    const auto text = tree.get_optional<std::string>("amount");
    if (!text || text->empty()) return std::nullopt;
    std::int64_t amount = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), amount);
    if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
    if (amount < 1 || amount > max_amount) return std::nullopt;
    return amount;
}

}  // namespace

Response handle_request(const Request& request, Ledger& ledger, const std::string& region) {
    // /accounts/{id} or /accounts/{id}/{action}; a query string is ignored.
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    constexpr std::string_view prefix = "/accounts/";
    if (target.substr(0, prefix.size()) != prefix)
        return error(request, http::status::not_found, "no such resource");
    std::string_view rest = target.substr(prefix.size());
    const auto slash = rest.find('/');
    const std::string_view id = rest.substr(0, slash);
    const std::string_view action = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    if (action != "" && action != "deposit" && action != "withdraw") {
        return error(request, http::status::not_found, "no such resource");
    }
    const http::verb wanted = action.empty() ? http::verb::get : http::verb::post;
    if (request.method() != wanted) {
        const auto method = http::to_string(wanted);
        Response response = error(request, http::status::method_not_allowed,
                                  "use " + std::string(method.data(), method.size()));
        response.set(http::field::allow, method);
        return response;
    }
    if (!valid_account(id)) {
        return error(request, http::status::bad_request,
                     "an account id is 1-64 letters, digits, - or _");
    }

    Expected<std::int64_t, LedgerError> balance = std::int64_t{0};
    if (action.empty()) {
        balance = ledger.balance(id);
    } else {
        const auto amount = parse_amount(request.body());
        if (!amount) {
            return error(request, http::status::bad_request,
                         "the body must be JSON {\"amount\": N} with N a whole number from 1 to " +
                             std::to_string(max_amount));
        }
        balance = action == "deposit" ? ledger.deposit(id, *amount) : ledger.withdraw(id, *amount);
    }
    if (!balance) return ledger_error(request, balance.error());
    return account_json(request, id, *balance, region);
}

}  // namespace meridian::regional_app
