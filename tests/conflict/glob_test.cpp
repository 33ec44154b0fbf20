#include "conflict/glob.hpp"

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

using meridian::conflict::glob_match;
using meridian::conflict::glob_problem;

namespace {

// Redis's stringmatchlen_impl (util.c, 7.x), ported as literally as bounds
// checks allow: the oracle glob_match must agree with. Reading past the end
// yields 0, as the C code reads the terminating NUL.
bool redis_match(std::string_view p, std::string_view s, bool& skip_longer, int nesting) {
    if (nesting > 1000) return false;
    auto at = [&](std::size_t i) -> int {
        return i < p.size() ? static_cast<signed char>(p[i]) : 0;
    };
    std::size_t pi = 0;
    std::size_t si = 0;
    while (pi < p.size() && si < s.size()) {
        switch (p[pi]) {
            case '*':
                while (pi < p.size() && at(pi + 1) == '*') ++pi;
                if (p.size() - pi == 1) return true;
                while (si < s.size()) {
                    if (redis_match(p.substr(pi + 1), s.substr(si), skip_longer, nesting + 1)) {
                        return true;
                    }
                    if (skip_longer) return false;
                    ++si;
                }
                skip_longer = true;
                return false;
            case '?':
                ++si;
                break;
            case '[': {
                ++pi;
                const bool negated = at(pi) == '^';
                if (negated) ++pi;
                bool match = false;
                const int c = static_cast<signed char>(s[si]);
                while (true) {
                    const std::size_t left = p.size() - pi;
                    if (at(pi) == '\\' && left >= 2) {
                        ++pi;
                        if (at(pi) == c) match = true;
                    } else if (at(pi) == ']') {
                        break;
                    } else if (left == 0) {
                        --pi;
                        break;
                    } else if (left >= 3 && at(pi + 1) == '-') {
                        int start = at(pi);
                        int end = at(pi + 2);
                        if (start > end) std::swap(start, end);
                        pi += 2;
                        if (c >= start && c <= end) match = true;
                    } else if (at(pi) == c) {
                        match = true;
                    }
                    ++pi;
                }
                if (negated) match = !match;
                if (!match) return false;
                ++si;
                break;
            }
            case '\\':
                if (p.size() - pi >= 2) ++pi;
                [[fallthrough]];
            default:
                if (p[pi] != s[si]) return false;
                ++si;
                break;
        }
        ++pi;
        if (si == s.size()) {
            while (at(pi) == '*') ++pi;
            break;
        }
    }
    return pi == p.size() && si == s.size();
}

bool redis_match(std::string_view pattern, std::string_view key) {
    bool skip_longer = false;
    return redis_match(pattern, key, skip_longer, 0);
}

rc::Gen<std::string> text_over(std::string alphabet, int max_size) {
    return rc::gen::resize(max_size, rc::gen::container<std::string>(rc::gen::elementOf(alphabet)));
}

bool has_metacharacter(std::string_view s) {
    return s.find_first_of("*?[\\") != std::string_view::npos;
}

}  // namespace

TEST_CASE("stars, question marks and literals match as in Redis") {
    struct Case {
        std::string_view pattern, key;
        bool match;
    };
    const Case cases[] = {
        {"*", "anything", true},
        {"h?llo", "hello", true},
        {"h?llo", "hllo", false},
        {"h*llo", "hllo", true},
        {"h*llo", "heeeello", true},
        {"h*llo", "hello!", false},
        {"*llo", "hello", true},
        {"he*", "hello", true},
        {"a*b*c", "a__b__c", true},
        {"a*b*c", "a__c__b", false},
        {"**", "x", true},
        {"", "", true},
        {"", "a", false},
        {"a", "", false},
        {"balance:*", "balance:", true},
        {"balance:*", "balanc", false},
        {"a*", std::string_view("a\0\n", 3), true},
        {"?", std::string_view("\0", 1), true},
        {"\xc3\xa9*", "\xc3\xa9t\xc3\xa9", true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.pattern, c.key);
        CHECK(glob_match(c.pattern, c.key) == c.match);
    }
}

TEST_CASE("classes, ranges, negation and escapes match as in Redis, quirks included") {
    struct Case {
        std::string_view pattern, key;
        bool match;
    };
    const Case cases[] = {
        {"h[ae]llo", "hello", true},
        {"h[ae]llo", "hallo", true},
        {"h[ae]llo", "hillo", false},
        {"h[^e]llo", "hallo", true},
        {"h[^e]llo", "hello", false},
        {"h[a-b]llo", "hbllo", true},
        {"h[a-b]llo", "hcllo", false},
        {"[z-a]", "m", true},  // a reversed range is swapped
        {"h\\*llo", "h*llo", true},
        {"h\\*llo", "hello", false},
        {"\\?", "?", true},
        {"\\?", "x", false},
        {"[\\]]", "]", true},  // an escape inside a class
        {"[\\^a]", "^", true},
        {"[a\\-z]", "b", false},  // an escaped '-' makes no range
        {"[a\\-z]", "-", true},
        {"[a-]", "_", true},  // "a-]" is the range ']'..'a'; the class stays open
        {"[a-]", "-", false},
        {"[abc", "b", true},  // an unterminated class runs to the end of the pattern
        {"[abc", "d", false},
        {"[", "x", false},
        {"[^", "x", true},
        {"[]", "x", false},  // an empty class matches nothing
        {"[]]", "]", false},
        {"[^]", "x", true},  // an empty negated class matches anything
        {"[^]x", "ax", true},
        {"a\\", "a\\", true},  // a trailing backslash is a literal one
        {"a\\", "a", false},
        {"[\\", "\\", true},
        {"[a-", "-", true},
        {"[a-", "b", false},
    };
    for (const Case& c : cases) {
        CAPTURE(c.pattern, c.key);
        CHECK(glob_match(c.pattern, c.key) == c.match);
        CHECK(redis_match(c.pattern, c.key) == c.match);
    }
}

TEST_CASE("a pattern of stars matches the empty key, unlike Redis's matcher") {
    CHECK(glob_match("*", ""));
    CHECK(glob_match("***", ""));
    CHECK_FALSE(glob_match("?", ""));
    CHECK_FALSE(glob_match("*a", ""));
    CHECK_FALSE(redis_match("*", ""));  // the documented difference
}

TEST_CASE("many stars against a long key that does not match finish at once") {
    const std::string key(20000, 'a');
    CHECK_FALSE(glob_match("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", key));
    CHECK(glob_match("a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a", key));
    std::string many;
    for (int i = 0; i < 2000; ++i) many += "*a";
    CHECK_FALSE(glob_match(many + "b", key));
    CHECK(glob_match(many, key));  // Redis's nesting cap would say no here
}

TEST_CASE("glob matching agrees with Redis's stringmatchlen on every non-empty key") {
    rc::prop("same answer as the Redis port", [] {
        const std::string pattern = *text_over("ab*?[]^-\\", 10);
        const std::string key = *text_over("ab-]^\\", 8);
        RC_PRE(!key.empty());
        RC_ASSERT(glob_match(pattern, key) == redis_match(pattern, key));
    });
}

TEST_CASE("a pattern without metacharacters matches exactly itself") {
    rc::prop("matches itself and nothing else",
             [](const std::string& text, const std::string& other) {
                 RC_PRE(!has_metacharacter(text));
                 RC_ASSERT(glob_match(text, text));
                 RC_ASSERT(glob_match(text, other) == (text == other));
                 RC_ASSERT(!glob_problem(text));
             });
}

TEST_CASE("a pattern with every byte escaped matches exactly the unescaped text") {
    rc::prop("escaped text matches itself", [](const std::string& text, const std::string& other) {
        std::string pattern;
        for (char c : text) {
            pattern += '\\';
            pattern += c;
        }
        RC_ASSERT(glob_match(pattern, text));
        RC_ASSERT(glob_match(pattern, other) == (text == other));
        RC_ASSERT(!glob_problem(pattern));
    });
}

TEST_CASE("a star matches every key that ends with what follows it") {
    rc::prop("'*' + suffix", [](const std::string& head, const std::string& tail) {
        RC_PRE(!has_metacharacter(tail));
        RC_ASSERT(glob_match("*" + tail, head + tail));
        RC_ASSERT(glob_match(tail + "*", tail + head));
    });
}

TEST_CASE("glob_problem names an unterminated class, a trailing backslash and an empty class") {
    CHECK(glob_problem("acct:[0-9") == "unterminated '[' at offset 5");
    CHECK(glob_problem("[a-]") == "unterminated '[' at offset 0");
    CHECK(glob_problem("key\\") == "trailing backslash (write \\\\ for a literal one)");
    CHECK(glob_problem("x[]") == "empty class \"[]\" at offset 1 matches nothing");
    CHECK(glob_problem("[\\]") == "unterminated '[' at offset 0");
    CHECK(glob_problem("[]]") == "empty class \"[]\" at offset 0 matches nothing");
}

TEST_CASE("glob_problem accepts well-formed patterns") {
    for (std::string_view ok :
         {"", "*", "balance:*", "acct:{*}:?", "[a-z]*", "[^]", "[\\]]", "\\[literal\\]", "a\\\\"}) {
        CAPTURE(ok);
        CHECK_FALSE(glob_problem(ok));
    }
}
