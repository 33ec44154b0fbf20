#include "conflict/home_router.hpp"

#include <cstdio>

namespace meridian::conflict {
namespace {

// Keys are arbitrary bytes and an error reply is one line: control and
// non-ASCII bytes are escaped and a long key is cut short.
std::string printable(std::string_view text) {
    constexpr std::size_t limit = 64;
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i == limit) {
            out += "...";
            break;
        }
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            char buf[5];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out.push_back(static_cast<char>(c));
        }
    }
    return out;
}

}  // namespace

std::optional<std::string_view> hash_tag(std::string_view key) {
    const std::size_t open = key.find('{');
    if (open == std::string_view::npos) return std::nullopt;
    const std::size_t close = key.find('}', open + 1);
    if (close == std::string_view::npos || close == open + 1) return std::nullopt;
    return key.substr(open + 1, close - open - 1);
}

Expected<crdt::RegionId, std::string> home_of(const Policy& policy, std::string_view key,
                                              const RegionDirectory& regions) {
    if (!policy.home_routed) {
        return unexpected("key " + printable(key) + " is not home-routed");
    }
    switch (policy.home.kind) {
        case HomeRule::Kind::fixed:
            if (regions.name_of(policy.home.region).empty()) {
                return unexpected("home region " + std::to_string(policy.home.region) + " of key " +
                                  printable(key) + " is not a region");
            }
            return policy.home.region;
        case HomeRule::Kind::tag: {
            const auto tag = hash_tag(key);
            if (!tag) return unexpected("key " + printable(key) + " has no {region} hash tag");
            if (auto id = regions.id_of(*tag)) return *id;
            return unexpected("hash tag {" + printable(*tag) + "} of key " + printable(key) +
                              " names no region");
        }
        case HomeRule::Kind::none:
            break;
    }
    return unexpected("key " + printable(key) + " is home-routed but its policy names no home");
}

}  // namespace meridian::conflict
