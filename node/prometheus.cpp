#include "node/prometheus.hpp"

#include <charconv>
#include <cmath>

namespace meridian::node {

namespace {

bool is_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Metric names are [a-zA-Z_:][a-zA-Z0-9_:]*, label names the same without ':'. Names come from
// code, but some embed a peer or command name, so an odd character is replaced, not fatal.
void append_name(std::string& out, std::string_view name, bool colon_allowed) {
    if (name.empty() || is_digit(name.front())) out.push_back('_');
    for (const char c : name) {
        const bool ok = is_letter(c) || is_digit(c) || (colon_allowed && c == ':');
        out.push_back(ok ? c : '_');
    }
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
    for (const char c : text) {
        if (c == '\\') {
            out.append("\\\\");
        } else if (c == '\n') {
            out.append("\\n");
        } else if (quote && c == '"') {
            out.append("\\\"");
        } else {
            out.push_back(c);
        }
    }
}

}  // namespace

void PrometheusText::counter(std::string_view name, std::string_view help, Labels labels,
                             double value) {
    add(Type::counter, name, help, labels, double_text(value));
}

void PrometheusText::gauge(std::string_view name, std::string_view help, Labels labels,
                           double value) {
    add(Type::gauge, name, help, labels, double_text(value));
}

std::string PrometheusText::str() const {
    std::size_t size = 0;
    for (const std::string& family : families_) size += family.size();
    std::string out;
    out.reserve(size);
    for (const std::string& family : families_) out.append(family);
    return out;
}

PrometheusText::Number PrometheusText::signed_text(std::int64_t value) {
    Number n{};
    n.size = static_cast<std::size_t>(
        std::to_chars(n.digits, n.digits + sizeof n.digits, value).ptr - n.digits);
    return n;
}

PrometheusText::Number PrometheusText::unsigned_text(std::uint64_t value) {
    Number n{};
    n.size = static_cast<std::size_t>(
        std::to_chars(n.digits, n.digits + sizeof n.digits, value).ptr - n.digits);
    return n;
}

PrometheusText::Number PrometheusText::double_text(double value) {
    // Prometheus reads values with Go's ParseFloat: shortest round-trip digits, and its own
    // spellings of the special values.
    Number n{};
    std::string_view special;
    if (std::isnan(value)) {
        special = "NaN";
    } else if (std::isinf(value)) {
        special = value > 0 ? "+Inf" : "-Inf";
    }
    if (!special.empty()) {
        special.copy(n.digits, special.size());
        n.size = special.size();
        return n;
    }
    n.size = static_cast<std::size_t>(
        std::to_chars(n.digits, n.digits + sizeof n.digits, value).ptr - n.digits);
    return n;
}

void PrometheusText::add(Type type, std::string_view name, std::string_view help, Labels labels,
                         const Number& value) {
    std::string metric;
    append_name(metric, name, true);
    auto [it, inserted] = index_.try_emplace(metric, families_.size());
    if (inserted) {
        std::string& text = families_.emplace_back();
        text.append("# HELP ").append(metric).push_back(' ');
        append_escaped(text, help, false);
        text.append("\n# TYPE ").append(metric);
        text.append(type == Type::counter ? " counter\n" : " gauge\n");
    }
    std::string& text = families_[it->second];
    text.append(metric);
    if (labels.size() != 0) {
        text.push_back('{');
        bool first = true;
        for (const auto& [label, label_value] : labels) {
            if (!first) text.push_back(',');
            first = false;
            append_name(text, label, false);
            text.append("=\"");
            append_escaped(text, label_value, true);
            text.push_back('"');
        }
        text.push_back('}');
    }
    text.push_back(' ');
    text.append(value.view());
    text.push_back('\n');
}

}  // namespace meridian::node
