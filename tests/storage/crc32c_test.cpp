#include "storage/crc32c.hpp"

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <string>

using meridian::node::crc32c;
using meridian::node::crc32c_portable;

TEST_CASE("crc32c matches the published check value") {
    // The CRC-32C check value of "123456789" (RFC 3720, appendix B.4).
    CHECK(crc32c("123456789") == 0xE3069283u);
    CHECK(crc32c_portable("123456789") == 0xE3069283u);
    CHECK(crc32c("") == 0u);
}

TEST_CASE("the fast crc32c equals the portable one at every length and offset") {
    rc::prop("crc32c(s[o:]) == crc32c_portable(s[o:])", [](const std::string& s, std::uint8_t o) {
        const std::string_view view =
            std::string_view(s).substr(std::min<std::size_t>(o % 8, s.size()));
        RC_ASSERT(crc32c(view) == crc32c_portable(view));
    });
}
