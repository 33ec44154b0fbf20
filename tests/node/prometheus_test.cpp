#include "node/prometheus.hpp"

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

using meridian::node::PrometheusText;

namespace {

// The label value of a one-label sample line `name{label="..."} v`, unescaped as Prometheus's
// parser does; "<malformed>" when the line would not parse.
std::string parsed_label_value(std::string_view page) {
    const std::size_t open = page.find("=\"");
    if (open == std::string_view::npos) return "<malformed>";
    std::string out;
    for (std::size_t i = open + 2; i < page.size(); ++i) {
        const char c = page[i];
        if (c == '\n') return "<malformed>";
        if (c == '"') return page.substr(i).rfind("\"} 1\n", 0) == 0 ? out : "<malformed>";
        if (c != '\\') {
            out.push_back(c);
            continue;
        }
        if (++i == page.size()) return "<malformed>";
        switch (page[i]) {
            case '\\':
                out.push_back('\\');
                break;
            case '"':
                out.push_back('"');
                break;
            case 'n':
                out.push_back('\n');
                break;
            default:
                return "<malformed>";
        }
    }
    return "<malformed>";
}

}  // namespace

TEST_CASE("an empty page is empty") {
    CHECK(PrometheusText().str().empty());
}

TEST_CASE("each metric gets its HELP and TYPE once and keeps its samples together") {
    PrometheusText t;
    t.counter("meridian_commands_total", "Commands executed.", {{"command", "set"}}, 42);
    t.gauge("meridian_connected_clients", "Clients connected now.", {}, 3);
    t.counter("meridian_commands_total", "Commands executed.", {{"command", "get"}},
              std::numeric_limits<std::uint64_t>::max());
    t.gauge("meridian_peer_lag_records", "Records the peer lacks.",
            {{"peer", "eu-west"}, {"direction", "out"}}, std::int64_t{-7});
    CHECK(t.str() ==
          "# HELP meridian_commands_total Commands executed.\n"
          "# TYPE meridian_commands_total counter\n"
          "meridian_commands_total{command=\"set\"} 42\n"
          "meridian_commands_total{command=\"get\"} 18446744073709551615\n"
          "# HELP meridian_connected_clients Clients connected now.\n"
          "# TYPE meridian_connected_clients gauge\n"
          "meridian_connected_clients 3\n"
          "# HELP meridian_peer_lag_records Records the peer lacks.\n"
          "# TYPE meridian_peer_lag_records gauge\n"
          "meridian_peer_lag_records{peer=\"eu-west\",direction=\"out\"} -7\n");
}

TEST_CASE("label values escape backslash, quote and newline, help text backslash and newline") {
    PrometheusText t;
    t.gauge("meridian_peer_up", "1 when up.\nSee C:\\docs, \"peers\".",
            {{"peer", "eu\\west \"a\"\nb"}, {"region", "us"}}, 1);
    CHECK(t.str() ==
          "# HELP meridian_peer_up 1 when up.\\nSee C:\\\\docs, \"peers\".\n"
          "# TYPE meridian_peer_up gauge\n"
          "meridian_peer_up{peer=\"eu\\\\west \\\"a\\\"\\nb\",region=\"us\"} 1\n");
}

TEST_CASE("doubles print as shortest round-trip decimals and Prometheus's special values") {
    PrometheusText t;
    const char* help = "h";
    t.gauge("g", help, {{"v", "half"}}, 0.5);
    t.gauge("g", help, {{"v", "tenth"}}, 0.1);
    t.gauge("g", help, {{"v", "negative"}}, -3.25);
    t.gauge("g", help, {{"v", "whole"}}, 2.0);
    t.gauge("g", help, {{"v", "large"}}, 1e21);
    t.gauge("g", help, {{"v", "tiny"}}, 1.5e-9);
    t.gauge("g", help, {{"v", "inf"}}, std::numeric_limits<double>::infinity());
    t.gauge("g", help, {{"v", "-inf"}}, -std::numeric_limits<double>::infinity());
    t.gauge("g", help, {{"v", "nan"}}, std::nan(""));
    t.counter("c", help, {}, 1234.0);
    CHECK(t.str() ==
          "# HELP g h\n# TYPE g gauge\n"
          "g{v=\"half\"} 0.5\n"
          "g{v=\"tenth\"} 0.1\n"
          "g{v=\"negative\"} -3.25\n"
          "g{v=\"whole\"} 2\n"
          "g{v=\"large\"} 1e+21\n"
          "g{v=\"tiny\"} 1.5e-09\n"
          "g{v=\"inf\"} +Inf\n"
          "g{v=\"-inf\"} -Inf\n"
          "g{v=\"nan\"} NaN\n"
          "# HELP c h\n# TYPE c counter\n"
          "c 1234\n");
}

TEST_CASE("characters a metric or label name cannot hold become underscores") {
    PrometheusText t;
    t.counter("meridian_peer-bytes.total", "h", {{"peer-name", "x"}, {"a:b", "y"}}, 1);
    t.gauge("9lives", "h", {}, 9);
    t.gauge("ns:metric", "h", {}, 1);
    CHECK(t.str() ==
          "# HELP meridian_peer_bytes_total h\n# TYPE meridian_peer_bytes_total counter\n"
          "meridian_peer_bytes_total{peer_name=\"x\",a_b=\"y\"} 1\n"
          "# HELP _9lives h\n# TYPE _9lives gauge\n"
          "_9lives 9\n"
          "# HELP ns:metric h\n# TYPE ns:metric gauge\n"
          "ns:metric 1\n");
}

TEST_CASE("any label value survives the exposition and a parser's unescaping") {
    rc::prop("escaped label values parse back to themselves", [](const std::string& value) {
        PrometheusText t;
        t.gauge("m", "h", {{"l", value}}, 1);
        const std::string page = t.str();
        const std::string sample = page.substr(page.find("\nm{") + 1);
        RC_ASSERT(parsed_label_value(sample) == value);
    });
}
