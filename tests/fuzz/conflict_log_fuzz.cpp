// libFuzzer target for the conflict log's reader (storage/conflict_log.cpp). The input is a whole
// file's bytes. Checks: parsing never crashes nor reads past the input; what it accepts is a
// prefix of the input; a clean or torn file, cut to that prefix, takes a new entry and reads
// back one more; the entries it decoded frame and parse back to themselves.
//
// Built by CMake with -DMERIDIAN_FUZZ=ON (clang), and run by scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/conflict_log.hpp"

namespace {

using meridian::node::ConflictEntry;
using meridian::node::frame_conflict_entry;
using meridian::node::kConflictLogMagic;
using meridian::node::parse_conflict_log;

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "conflict_log_fuzz: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const auto parsed = parse_conflict_log(bytes);
    if (parsed.valid_bytes > size) die("valid_bytes runs past the input");
    if (parsed.problem && parsed.torn) die("a file is both corrupt and torn");

    // The entries read back from their own framing.
    std::string rebuilt(kConflictLogMagic);
    for (const ConflictEntry& e : parsed.entries) rebuilt += frame_conflict_entry(e);
    const auto again = parse_conflict_log(rebuilt);
    if (again.problem || again.torn || again.entries != parsed.entries)
        die("decoded entries do not survive their own framing");

    // What ConflictLog::open keeps of a readable file takes one more entry.
    if (!parsed.problem && parsed.valid_bytes > 0) {
        std::string appended(bytes.substr(0, parsed.valid_bytes));
        ConflictEntry next;
        next.key = "next";
        next.value = "v";
        appended += frame_conflict_entry(next);
        const auto after = parse_conflict_log(appended);
        if (after.problem || after.torn || after.entries.size() != parsed.entries.size() + 1 ||
            after.entries.back() != next)
            die("an entry appended after the readable prefix does not read back");
    }
    return 0;
}
