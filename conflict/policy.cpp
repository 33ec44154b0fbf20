#include "conflict/policy.hpp"

#include <utility>

#include "conflict/glob.hpp"

namespace meridian::conflict {
namespace {

// The longest literal text every key matching `pattern` starts with, and
// whether that is the whole pattern, or the whole pattern but one final '*'.
struct LiteralShape {
    std::string prefix;
    bool whole = false;       // no metacharacter at all
    bool star_after = false;  // prefix followed by a single trailing '*'
};

LiteralShape literal_shape(std::string_view pattern) {
    LiteralShape shape;
    std::size_t i = 0;
    for (; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '*' || c == '?' || c == '[') break;
        if (c == '\\') {
            if (i + 1 == pattern.size()) break;  // a trailing backslash: leave it to the glob
            ++i;
        }
        shape.prefix.push_back(pattern[i]);
    }
    shape.whole = i == pattern.size();
    shape.star_after = i + 1 == pattern.size() && pattern[i] == '*';
    return shape;
}

// FNV-1a 64: fixed forever, unlike std::hash, so fingerprints agree across
// builds, platforms and releases.
class Fnv1a64 {
public:
    void bytes(std::string_view text) {
        for (unsigned char c : text) {
            hash_ ^= c;
            hash_ *= 0x100000001b3ull;
        }
    }
    // Length-prefixed, so no choice of names or patterns can make two
    // different inputs spell the same canonical text.
    void field(std::string_view text) {
        bytes(std::to_string(text.size()));
        bytes(":");
        bytes(text);
        bytes(";");
    }
    void number(std::int64_t n) { field(std::to_string(n)); }
    std::uint64_t value() const { return hash_; }

private:
    std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

void add_policy(Fnv1a64& h, const Policy& p) {
    h.field(p.match);
    h.field(crdt::name_of(p.type));
    h.field(p.home_routed ? "home" : "local");
    switch (p.home.kind) {
        case HomeRule::Kind::none:
            h.field("none");
            break;
        case HomeRule::Kind::fixed:
            h.field("fixed");
            h.number(p.home.region);
            break;
        case HomeRule::Kind::tag:
            h.field("tag");
            break;
    }
    if (p.min) {
        h.field("min");
        h.number(*p.min);
    } else {
        h.field("nomin");
    }
}

}  // namespace

PolicyTable::PolicyTable() = default;

PolicyTable::PolicyTable(std::vector<Policy> rules, Policy fallback)
    : rules_(std::move(rules)), fallback_(std::move(fallback)) {
    matchers_.reserve(rules_.size());
    for (const Policy& rule : rules_) {
        LiteralShape shape = literal_shape(rule.match);
        Matcher m;
        m.kind = shape.whole        ? Matcher::Kind::exact
                 : shape.star_after ? Matcher::Kind::prefix
                                    : Matcher::Kind::glob;
        m.literal = std::move(shape.prefix);
        matchers_.push_back(std::move(m));
    }
}

const Policy& PolicyTable::lookup(std::string_view key) const {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const Matcher& m = matchers_[i];
        switch (m.kind) {
            case Matcher::Kind::exact:
                if (key == m.literal) return rules_[i];
                break;
            case Matcher::Kind::prefix:
                if (key.starts_with(m.literal)) return rules_[i];
                break;
            case Matcher::Kind::glob:
                if (key.starts_with(m.literal) && glob_match(rules_[i].match, key)) {
                    return rules_[i];
                }
                break;
        }
    }
    return fallback_;
}

std::uint64_t policy_fingerprint(std::string_view cluster, const RegionDirectory& regions,
                                 const PolicyTable& policies) {
    Fnv1a64 h;
    h.field("meridian-policy-v1");
    h.field(cluster);
    h.number(static_cast<std::int64_t>(regions.size()));
    for (const RegionEntry& r : regions.entries()) {
        h.number(r.id);
        h.field(r.name);
    }
    add_policy(h, policies.fallback());
    h.number(static_cast<std::int64_t>(policies.rules().size()));
    for (const Policy& rule : policies.rules()) add_policy(h, rule);
    return h.value();
}

}  // namespace meridian::conflict
