// The policy table: which conflict policy (CRDT type, routing, floor) governs
// a key, chosen by the first rule whose glob fits it. Built once from the
// cluster file and then read-only: any thread may call lookup() concurrently.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conflict/region_directory.hpp"
#include "crdt/ids.hpp"
#include "crdt/value.hpp"

namespace meridian::conflict {

// Where a home-routed key's writes execute.
struct HomeRule {
    enum class Kind : std::uint8_t { none, fixed, tag };
    Kind kind = Kind::none;
    crdt::RegionId region = 0;  // Kind::fixed

    friend bool operator==(const HomeRule&, const HomeRule&) = default;
};

struct Policy {
    std::string match;  // glob; empty for the default policy
    crdt::ValueType type = crdt::ValueType::lww;
    bool home_routed = false;  // route = "home"
    HomeRule home;
    std::optional<std::int64_t> min;  // floor: counter with route = "home", or bounded_counter

    friend bool operator==(const Policy&, const Policy&) = default;
};

class PolicyTable {
public:
    PolicyTable();  // every key lww
    // `rules` are tried in order; their globs are assumed valid (glob_problem).
    PolicyTable(std::vector<Policy> rules, Policy fallback);

    // The first rule whose match fits `key`, else the fallback. On every
    // command's path: rules with a literal prefix are rejected by a prefix
    // compare before any glob runs.
    const Policy& lookup(std::string_view key) const;

    std::span<const Policy> rules() const { return rules_; }
    const Policy& fallback() const { return fallback_; }

private:
    // How a rule's match is decided, worked out once per rule.
    struct Matcher {
        enum class Kind : std::uint8_t { exact, prefix, glob };
        Kind kind = Kind::glob;
        std::string literal;  // exact: the whole key; prefix, glob: what every match starts with
    };

    std::vector<Policy> rules_;
    std::vector<Matcher> matchers_;  // parallel to rules_
    Policy fallback_;
};

// A stable 64-bit fingerprint of everything replicas must agree on to
// exchange deltas: the cluster name, the regions' ids and names, the fallback
// and each rule in order. FNV-1a 64 over a canonical text, so it is the same on
// every build and platform and must never change for a given input. Addresses,
// data directories, secrets and tunables are left out: they may differ
// between regions (a peer may be reached through a proxy or NAT address).
std::uint64_t policy_fingerprint(std::string_view cluster, const RegionDirectory& regions,
                                 const PolicyTable& policies);

}  // namespace meridian::conflict
