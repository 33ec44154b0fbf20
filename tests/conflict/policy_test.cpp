#include "conflict/policy.hpp"

#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <functional>

#include "conflict/glob.hpp"

using meridian::conflict::HomeRule;
using meridian::conflict::Policy;
using meridian::conflict::policy_fingerprint;
using meridian::conflict::PolicyTable;
using meridian::conflict::RegionDirectory;
using meridian::crdt::ValueType;

namespace {

Policy rule(std::string match, ValueType type) {
    Policy p;
    p.match = std::move(match);
    p.type = type;
    return p;
}

Policy home_counter(std::string match, HomeRule home, std::optional<std::int64_t> min) {
    Policy p = rule(std::move(match), ValueType::counter);
    p.home_routed = true;
    p.home = home;
    p.min = min;
    return p;
}

RegionDirectory two_regions() {
    RegionDirectory d;
    (void)d.add(1, "us-east");
    (void)d.add(2, "eu-west");
    return d;
}

// The table of the contract's example cluster file.
PolicyTable demo_policies() {
    Policy bounded = rule("stock:*", ValueType::bounded_counter);
    bounded.min = -5;
    return PolicyTable(
        {rule("balance:*", ValueType::counter), home_counter("acct:*", {HomeRule::Kind::tag, 0}, 0),
         home_counter("ledger:[0-9]*", {HomeRule::Kind::fixed, 2}, std::nullopt),
         rule("tags:*", ValueType::set), bounded},
        rule("", ValueType::lww));
}

// The first rule whose glob fits, by brute force: what lookup() must agree with.
const Policy& first_match(const PolicyTable& table, std::string_view key) {
    for (const Policy& p : table.rules()) {
        if (meridian::conflict::glob_match(p.match, key)) return p;
    }
    return table.fallback();
}

}  // namespace

TEST_CASE("a default policy table makes every key lww") {
    PolicyTable table;
    CHECK(table.rules().empty());
    CHECK(table.lookup("anything").type == ValueType::lww);
    CHECK(table.lookup("").type == ValueType::lww);
    CHECK_FALSE(table.lookup("x").home_routed);
}

TEST_CASE("the first matching rule wins over later ones") {
    PolicyTable table({rule("acct:*", ValueType::counter), rule("acct:vip:*", ValueType::set)},
                      rule("", ValueType::lww));
    CHECK(table.lookup("acct:vip:1").type == ValueType::counter);
    CHECK(&table.lookup("acct:vip:1") == &table.rules()[0]);

    PolicyTable reversed({rule("acct:vip:*", ValueType::set), rule("acct:*", ValueType::counter)},
                         rule("", ValueType::lww));
    CHECK(reversed.lookup("acct:vip:1").type == ValueType::set);
    CHECK(reversed.lookup("acct:1").type == ValueType::counter);
}

TEST_CASE("a key that matches no rule gets the fallback") {
    PolicyTable table({rule("balance:*", ValueType::counter)}, rule("", ValueType::set));
    CHECK(&table.lookup("balances") == &table.fallback());
    CHECK(table.lookup("balances").type == ValueType::set);
    CHECK(table.lookup("balance:").type == ValueType::counter);
    CHECK(table.lookup("").type == ValueType::set);
}

TEST_CASE("literal, escaped and glob rules are all matched by lookup") {
    PolicyTable table({rule("exact", ValueType::counter), rule("we\\*ird", ValueType::set),
                       rule("x?z", ValueType::bounded_counter), rule("tail\\", ValueType::counter)},
                      rule("", ValueType::lww));
    CHECK(table.lookup("exact").type == ValueType::counter);
    CHECK(table.lookup("exactly").type == ValueType::lww);
    CHECK(table.lookup("we*ird").type == ValueType::set);
    CHECK(table.lookup("weeeird").type == ValueType::lww);
    CHECK(table.lookup("xyz").type == ValueType::bounded_counter);
    CHECK(table.lookup("tail\\").type == ValueType::counter);
}

TEST_CASE("lookup agrees with trying every rule's glob in order") {
    rc::prop("lookup == first glob match", [] {
        const auto pattern = rc::gen::resize(
            6, rc::gen::container<std::string>(rc::gen::elementOf(std::string("ab:*?[]\\"))));
        const auto patterns =
            *rc::gen::resize(5, rc::gen::container<std::vector<std::string>>(pattern));
        std::vector<Policy> rules;
        for (std::size_t i = 0; i < patterns.size(); ++i) {
            rules.push_back(rule(patterns[i], static_cast<ValueType>(i % 4)));
        }
        PolicyTable table(rules, rule("", ValueType::lww));
        const auto key = *rc::gen::resize(
            8, rc::gen::container<std::string>(rc::gen::elementOf(std::string("ab:*?]\\"))));
        RC_ASSERT(&table.lookup(key) == &first_match(table, key));
    });
}

TEST_CASE("the policy fingerprint of the demo cluster never changes") {
    // Computed once, when the canonical text was fixed (and checked against an
    // independent FNV-1a of the same text). These values must NEVER change:
    // regions running different builds compare fingerprints in the handshake,
    // and a new value would refuse every link between upgraded and old regions.
    CHECK(policy_fingerprint("demo", two_regions(), demo_policies()) == 0x9b31468edf9712e2ull);
    CHECK(policy_fingerprint("", RegionDirectory{}, PolicyTable{}) == 0x7b3b4f3b1595e416ull);
}

TEST_CASE("the fingerprint changes when any policy field changes") {
    const auto base = policy_fingerprint("demo", two_regions(), demo_policies());
    using Edit = std::function<void(std::vector<Policy>&, Policy&)>;
    const std::pair<const char*, Edit> edits[] = {
        {"match", [](auto& r, auto&) { r[0].match = "balance:?"; }},
        {"type", [](auto& r, auto&) { r[0].type = ValueType::bounded_counter; }},
        {"route", [](auto& r, auto&) { r[0].home_routed = true; }},
        {"home kind", [](auto& r, auto&) { r[1].home.kind = HomeRule::Kind::fixed; }},
        {"home region", [](auto& r, auto&) { r[2].home.region = 1; }},
        {"min value", [](auto& r, auto&) { r[1].min = -1; }},
        {"min presence", [](auto& r, auto&) { r[1].min.reset(); }},
        {"rule order", [](auto& r, auto&) { std::swap(r[0], r[3]); }},
        {"rule removed", [](auto& r, auto&) { r.pop_back(); }},
        {"fallback type", [](auto&, auto& f) { f.type = ValueType::counter; }},
        {"fallback min", [](auto&, auto& f) { f.min = 0; }},
    };
    for (const auto& [name, edit] : edits) {
        const PolicyTable demo = demo_policies();
        std::vector<Policy> rules(demo.rules().begin(), demo.rules().end());
        Policy fallback = demo.fallback();
        edit(rules, fallback);
        CAPTURE(name);
        CHECK(policy_fingerprint("demo", two_regions(), PolicyTable(rules, fallback)) != base);
    }
}

TEST_CASE("the fingerprint changes with the cluster name and the regions") {
    const auto base = policy_fingerprint("demo", two_regions(), demo_policies());
    CHECK(policy_fingerprint("demo2", two_regions(), demo_policies()) != base);

    RegionDirectory renamed;
    (void)renamed.add(1, "us-east");
    (void)renamed.add(2, "eu-north");
    CHECK(policy_fingerprint("demo", renamed, demo_policies()) != base);

    RegionDirectory renumbered;
    (void)renumbered.add(1, "us-east");
    (void)renumbered.add(3, "eu-west");
    CHECK(policy_fingerprint("demo", renumbered, demo_policies()) != base);

    RegionDirectory more = two_regions();
    (void)more.add(3, "ap-south");
    CHECK(policy_fingerprint("demo", more, demo_policies()) != base);
}

TEST_CASE("the fingerprint does not depend on the order regions were added in") {
    RegionDirectory backwards;
    (void)backwards.add(2, "eu-west");
    (void)backwards.add(1, "us-east");
    CHECK(policy_fingerprint("demo", backwards, demo_policies()) ==
          policy_fingerprint("demo", two_regions(), demo_policies()));
}

TEST_CASE("fields cannot run into each other in the fingerprint") {
    // Without length prefixes "ab" + "c" and "a" + "bc" would hash alike.
    PolicyTable one({rule("ab", ValueType::lww), rule("c", ValueType::lww)}, Policy{});
    PolicyTable two({rule("a", ValueType::lww), rule("bc", ValueType::lww)}, Policy{});
    CHECK(policy_fingerprint("x", RegionDirectory{}, one) !=
          policy_fingerprint("x", RegionDirectory{}, two));
    CHECK(policy_fingerprint("ab", RegionDirectory{}, PolicyTable{}) !=
          policy_fingerprint("a", RegionDirectory{}, PolicyTable{}));
}
