// libFuzzer harness for the backup MANIFEST reader. Each input is read twice: as it is (so the
// fuzzer meets the checksum line and the cuts and flips it must refuse), and sealed, with a valid
// `# sha256` line appended (after a newline if the input lacks one), so what lies behind the
// checksum (the TOML parser, every validation rule) is fuzzed as a hand-edited or buggy manifest
// could reach it. Checks: parse_manifest never crashes or throws; an error is one non-empty line; a
// manifest it accepts encodes to text that parses back equal, and encodes the same again.
//
// Built by tests/fuzz/CMakeLists.txt (MERIDIAN_FUZZ=ON, clang); scripts/fuzz.sh runs it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/backup_manifest.hpp"
#include "storage/sha256.hpp"

namespace {

using meridian::node::encode_manifest;
using meridian::node::parse_manifest;

[[noreturn]] void die(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "backup_manifest_fuzz: %s %.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

void check(std::string_view text) {
    auto parsed = parse_manifest(text);
    if (!parsed) {
        const std::string& error = parsed.error();
        if (error.empty()) die("empty error");
        if (error.find('\n') != std::string::npos) die("error spans lines:", error);
        return;
    }
    const std::string encoded = encode_manifest(*parsed);
    auto again = parse_manifest(encoded);
    if (!again) die("an accepted manifest, encoded again, is refused:", again.error());
    if (!(*again == *parsed)) die("an accepted manifest does not read back equal:", encoded);
    if (encode_manifest(*again) != encoded) die("encoding is not a function of the manifest");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check(input);
    // The checksum line starts a line of its own, or it would read as part of the last one.
    std::string sealed(input);
    if (!sealed.empty() && sealed.back() != '\n') sealed += '\n';
    sealed += "# sha256 " + meridian::node::sha256_hex(sealed) + "\n";
    check(sealed);
    return 0;
}
