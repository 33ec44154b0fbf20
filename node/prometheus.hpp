// PrometheusText: builds one /metrics page in the Prometheus text exposition format (0.0.4).
// A plain value type: whoever renders the page fills one and takes str(); no shared state.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace meridian::node {

class PrometheusText {
public:
    using Label = std::pair<std::string_view, std::string_view>;  // name, value
    using Labels = std::initializer_list<Label>;

    // One sample each. The first sample of a name writes its # HELP and # TYPE lines; later
    // samples of that name join the same block even when other metrics were added in between,
    // as the format requires. Characters a name cannot hold become '_'; label values are
    // escaped, so any bytes may go there.
    void counter(std::string_view name, std::string_view help, Labels labels, double value);
    void gauge(std::string_view name, std::string_view help, Labels labels, double value);

    template <std::integral T>
    void counter(std::string_view name, std::string_view help, Labels labels, T value) {
        add(Type::counter, name, help, labels, integer_text(value));
    }
    template <std::integral T>
    void gauge(std::string_view name, std::string_view help, Labels labels, T value) {
        add(Type::gauge, name, help, labels, integer_text(value));
    }

    // The page: every metric's block in the order its name first appeared.
    std::string str() const;

private:
    enum class Type { counter, gauge };
    struct Number {
        char digits[32];
        std::size_t size;
        std::string_view view() const { return {digits, size}; }
    };

    template <std::integral T>
    static Number integer_text(T value) {
        if constexpr (std::is_signed_v<T>) {
            return signed_text(static_cast<std::int64_t>(value));
        } else {
            return unsigned_text(static_cast<std::uint64_t>(value));
        }
    }
    static Number signed_text(std::int64_t value);
    static Number unsigned_text(std::uint64_t value);
    static Number double_text(double value);

    void add(Type type, std::string_view name, std::string_view help, Labels labels,
             const Number& value);

    // One block per metric name: its # HELP, # TYPE and samples so far. A name used again with
    // the other type keeps its first # TYPE (a caller's bug; the page stays parseable).
    std::vector<std::string> families_;
    std::unordered_map<std::string, std::size_t> index_;  // sanitized name -> families_ slot
};

}  // namespace meridian::node
