#include "conflict/glob.hpp"

#include <cstddef>

namespace meridian::conflict {
namespace {

struct ClassEnd {
    std::size_t next;  // index just past the class (the pattern's size if unterminated)
    bool terminated;
    bool matched;
};

// Scans the class whose '[' is at `open`, deciding whether `c` belongs to it.
// Mirrors Redis's loop: an escape wins over ']', "x-y" is a range whenever
// two more bytes follow the 'x' (so "[a-]" is the range a..] and leaves the
// class open), and reversed ranges are swapped.
ClassEnd scan_class(std::string_view pattern, std::size_t open, unsigned char c) {
    std::size_t i = open + 1;
    const bool negated = i < pattern.size() && pattern[i] == '^';
    if (negated) ++i;
    bool matched = false;
    bool terminated = false;
    while (i < pattern.size()) {
        const auto here = static_cast<unsigned char>(pattern[i]);
        const std::size_t left = pattern.size() - i;
        if (here == '\\' && left >= 2) {
            matched |= static_cast<unsigned char>(pattern[i + 1]) == c;
            i += 2;
        } else if (here == ']') {
            terminated = true;
            ++i;
            break;
        } else if (left >= 3 && pattern[i + 1] == '-') {
            unsigned char lo = here;
            unsigned char hi = static_cast<unsigned char>(pattern[i + 2]);
            if (lo > hi) std::swap(lo, hi);
            matched |= c >= lo && c <= hi;
            i += 3;
        } else {
            matched |= here == c;
            ++i;
        }
    }
    return {i, terminated, negated ? !matched : matched};
}

// Matches the single-byte token at pattern[p] (anything but '*') against `c`;
// returns the index past the token, or nullopt when it does not match.
std::optional<std::size_t> match_token(std::string_view pattern, std::size_t p, unsigned char c) {
    switch (pattern[p]) {
        case '?':
            return p + 1;
        case '[': {
            const ClassEnd end = scan_class(pattern, p, c);
            if (!end.matched) return std::nullopt;
            return end.next;
        }
        case '\\':
            if (p + 1 < pattern.size()) ++p;
            [[fallthrough]];
        default:
            if (static_cast<unsigned char>(pattern[p]) != c) return std::nullopt;
            return p + 1;
    }
}

}  // namespace

// Every token but '*' consumes exactly one byte, so when the tokens after a
// star fail, retrying from the most recent star one byte further is enough:
// an earlier star could only shift the same suffix, which the latest star
// already tries. That keeps the match iterative and quadratic at worst.
bool glob_match(std::string_view pattern, std::string_view key) {
    constexpr std::size_t no_star = std::string_view::npos;
    std::size_t p = 0;
    std::size_t k = 0;
    std::size_t star_p = no_star;  // pattern index just past the latest star run
    std::size_t star_k = 0;        // key index that star run's match ends at

    while (k < key.size()) {
        if (p < pattern.size() && pattern[p] == '*') {
            while (p < pattern.size() && pattern[p] == '*') ++p;
            if (p == pattern.size()) return true;
            star_p = p;
            star_k = k;
            continue;
        }
        if (p < pattern.size()) {
            if (auto next = match_token(pattern, p, static_cast<unsigned char>(key[k]))) {
                p = *next;
                ++k;
                continue;
            }
        }
        if (star_p == no_star) return false;
        p = star_p;
        k = ++star_k;
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

std::optional<std::string> glob_problem(std::string_view pattern) {
    std::size_t i = 0;
    while (i < pattern.size()) {
        switch (pattern[i]) {
            case '\\':
                if (i + 1 == pattern.size()) {
                    return "trailing backslash (write \\\\ for a literal one)";
                }
                i += 2;
                break;
            case '[': {
                const ClassEnd end = scan_class(pattern, i, 0);
                if (!end.terminated) {
                    return "unterminated '[' at offset " + std::to_string(i);
                }
                if (end.next == i + 2) {
                    return "empty class \"[]\" at offset " + std::to_string(i) + " matches nothing";
                }
                i = end.next;
                break;
            }
            default:
                ++i;
        }
    }
    return std::nullopt;
}

}  // namespace meridian::conflict
