// Glob matching of keys against policy patterns, with the dialect of Redis's
// stringmatchlen (KEYS, SCAN MATCH): * ? [abc] [^a] [a-z] and backslash escapes.
// Pure functions over their arguments: callable from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meridian::conflict {

// Whether `key` matches `pattern`, byte by byte and case-sensitively. Runs in
// O(|pattern| * |key|) however many stars the pattern holds. It follows Redis
// in every case but two: a pattern of stars matches the empty key (Redis's
// matcher says no; its KEYS command special-cases "*" instead), and range ends
// compare as unsigned bytes (Redis compares signed chars).
bool glob_match(std::string_view pattern, std::string_view key);

// What is wrong with `pattern` as something an operator meant to write, or
// nullopt. Redis accepts the patterns named here but reads them surprisingly
// (an unterminated class runs to the end of the pattern, a trailing backslash
// is a literal one, "[]" matches nothing), so a configuration refuses them.
std::optional<std::string> glob_problem(std::string_view pattern);

}  // namespace meridian::conflict
