// The chaos checker against hand-made histories: each violation it exists to find is found, and
// final states a correct cluster could produce pass.
#include "chaos/checker.hpp"

#include <rapidcheck/catch.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chaos/workload.hpp"

namespace {

using meridian::chaos::check;
using meridian::chaos::CheckResult;
using meridian::chaos::FinalState;
using meridian::chaos::History;
using meridian::chaos::Op;
using meridian::chaos::OpKind;
using meridian::chaos::Outcome;
using meridian::chaos::WorkloadKeys;

std::uint64_t clock_ms = 1000;

Op op(OpKind kind, std::string key, Outcome outcome, std::int64_t amount = 0,
      std::string element = {}) {
    Op o;
    o.kind = kind;
    o.key = std::move(key);
    o.outcome = outcome;
    o.amount = amount;
    o.element = std::move(element);
    o.region = "us-east";
    o.client = "us-east/0";
    o.invoked_ms = clock_ms;
    clock_ms += 50;
    o.completed_ms = clock_ms;
    clock_ms += 50;
    return o;
}

Op field(Op o, std::string name) {
    o.field = std::move(name);
    return o;
}

CheckResult run(const History& history, const FinalState& final_state) {
    return check({&history}, final_state, &WorkloadKeys::policy_of);
}

std::string all(const CheckResult& r) {
    std::string out;
    for (const auto& v : r.violations) out += v + "\n";
    return out;
}

bool mentions(const CheckResult& r, const std::string& text) {
    return std::any_of(r.violations.begin(), r.violations.end(),
                       [&](const std::string& v) { return v.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("a counter holding every acknowledged change passes") {
    History h = {op(OpKind::add, "cnt:0", Outcome::ok, 5),
                 op(OpKind::add, "cnt:0", Outcome::ok, -2),
                 op(OpKind::add, "cnt:0", Outcome::failed, 100)};
    FinalState f;
    f.numbers["cnt:0"] = 3;
    f.keys = {"cnt:0"};
    const CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 0);
}

TEST_CASE("a counter missing an acknowledged increment is a violation") {
    History h = {op(OpKind::add, "cnt:0", Outcome::ok, 5),
                 op(OpKind::add, "cnt:0", Outcome::ok, 4)};
    FinalState f;
    f.numbers["cnt:0"] = 5;
    const CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 1);
    CHECK(mentions(r, "acknowledged changes were lost"));
}

TEST_CASE(
    "a home's own acknowledged write in the lease before its failover may be undone, no other") {
    // us-east takes 100 and then a withdrawal of 30, acknowledged but never shipped; it is killed
    // and failed over. eu-west's withdrawal was applied at us-east and held by eu-west.
    History h = {op(OpKind::add, "acct:{us-east}:0", Outcome::ok, 100)};
    Op forwarded = op(OpKind::add, "acct:{us-east}:0", Outcome::ok, -10);
    forwarded.region = "eu-west";
    h.push_back(forwarded);
    h.push_back(op(OpKind::add, "acct:{us-east}:0", Outcome::ok, -30));
    meridian::chaos::CheckOptions options;
    options.failovers = {{"us-east", clock_ms - 160, clock_ms + 200}};  // the last two writes
    FinalState f;
    f.keys = {"acct:{us-east}:0"};
    f.numbers["acct:{us-east}:0"] = 90;  // the withdrawal of 30 undone
    CheckResult r = check({&h}, f, &WorkloadKeys::policy_of, options);
    INFO(all(r));
    CHECK(r.violation_count == 0);
    CHECK(r.undone_by_failover == 1);
    f.numbers["acct:{us-east}:0"] = 60;  // or kept
    CHECK(check({&h}, f, &WorkloadKeys::policy_of, options).violation_count == 0);

    // Losing the forwarded one too, or a write outside the window, or at another home, is still
    // a violation.
    f.numbers["acct:{us-east}:0"] = 100;
    CHECK(check({&h}, f, &WorkloadKeys::policy_of, options).violation_count == 1);
    f.numbers["acct:{us-east}:0"] = 90;
    options.failovers = {{"us-east", clock_ms + 100, clock_ms + 5000}};
    CHECK(check({&h}, f, &WorkloadKeys::policy_of, options).violation_count == 1);
    options.failovers = {{"eu-west", clock_ms - 160, clock_ms + 200}};
    CHECK(check({&h}, f, &WorkloadKeys::policy_of, options).violation_count == 1);
}

TEST_CASE(
    "a failed-over region's bounded-counter writes until it learned of its retirement may be "
    "undone, no other region's") {
    // us-east deposits 50 (shipped), is cut off and failed over, withdraws 20 there; it learns
    // of the retirement only once healed, and the heir's handover undid the withdrawal.
    History h = {op(OpKind::add, "bc:0", Outcome::ok, 50)};
    const std::uint64_t cut_ms = clock_ms;
    h.push_back(op(OpKind::add, "bc:0", Outcome::ok, -20));
    Op elsewhere = op(OpKind::add, "bc:0", Outcome::ok, -5);
    elsewhere.region = "ap-south";
    h.push_back(elsewhere);
    meridian::chaos::CheckOptions options;
    options.failovers = {{"us-east", cut_ms - 10, cut_ms + 10, clock_ms + 1000}};
    FinalState f;
    f.keys = {"bc:0"};
    f.numbers["bc:0"] = 45;
    CheckResult r = check({&h}, f, &WorkloadKeys::policy_of, options);
    INFO(all(r));
    CHECK(r.violation_count == 0);
    CHECK(r.undone_by_failover == 1);
    // ap-south's withdrawal is never undone; without the bounded window, nor is us-east's.
    f.numbers["bc:0"] = 50;
    CHECK(check({&h}, f, &WorkloadKeys::policy_of, options).violation_count == 1);
    f.numbers["bc:0"] = 45;
    options.failovers = {{"us-east", cut_ms - 10, cut_ms + 10}};
    CHECK(check({&h}, f, &WorkloadKeys::policy_of, options).violation_count == 1);
}

TEST_CASE("unknown changes widen a counter's bounds only in their own direction") {
    History h = {op(OpKind::add, "cnt:1", Outcome::ok, 10),
                 op(OpKind::add, "cnt:1", Outcome::unknown, 3),
                 op(OpKind::add, "cnt:1", Outcome::unknown, -4)};
    FinalState f;
    for (std::int64_t value : {6, 9, 10, 13}) {
        f.numbers["cnt:1"] = value;
        INFO("final value " << value);
        CHECK(run(h, f).violation_count == 0);
    }
    for (std::int64_t value : {5, 14}) {
        f.numbers["cnt:1"] = value;
        INFO("final value " << value);
        CHECK(run(h, f).violation_count == 1);
    }
}

TEST_CASE("each hash field is checked as a counter of its own HINCRBYs") {
    History h = {field(op(OpKind::field_add, "obj:0", Outcome::ok, 5), "n0"),
                 field(op(OpKind::field_add, "obj:0", Outcome::ok, -2), "n1"),
                 field(op(OpKind::field_add, "obj:0", Outcome::unknown, 7), "n1")};
    FinalState f;
    f.numbers["obj:0/n0"] = 5;
    f.numbers["obj:0/n1"] = 5;
    f.keys = {"obj:0"};
    CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 0);

    // An increment of f0 that shows up in f1 is lost from one and invented in the other.
    f.numbers["obj:0/n0"] = 0;
    f.numbers["obj:0/n1"] = 10;
    r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 2);
    CHECK(mentions(r, "obj:0/n0: final value 0 outside [5, 5]"));
    CHECK(mentions(r, "obj:0/n1: final value 10 outside [-2, 5]"));
}

TEST_CASE("a hash text field is checked as a register of its own HSETs") {
    History h = {field(op(OpKind::field_assign, "obj:2", Outcome::ok, 0, "old"), "t0"),
                 field(op(OpKind::field_assign, "obj:2", Outcome::ok, 0, "new"), "t0"),
                 field(op(OpKind::field_assign, "obj:2", Outcome::ok, 0, "other"), "t1")};
    FinalState f;
    f.registers["obj:2/t0"] = "new";
    f.registers["obj:2/t1"] = "other";
    f.keys = {"obj:2"};
    CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 0);

    // t0's first HSET was acknowledged before the second began: it cannot win.
    f.registers["obj:2/t0"] = "old";
    f.registers["obj:2/t1"] = "new";  // a value only t0 was given
    r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 2);
    CHECK(mentions(r, "obj:2/t0: the final value comes from hset obj:2 t0 old"));
    CHECK(mentions(r, "obj:2/t1: holds \"new\", which no SET wrote"));
}

TEST_CASE("a hash field no HINCRBY wrote is a violation") {
    History h = {field(op(OpKind::field_add, "obj:1", Outcome::ok, 3), "n0")};
    FinalState f;
    f.numbers["obj:1/n0"] = 3;
    f.numbers["obj:1/stray"] = 4;
    f.keys = {"obj:1"};
    const CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 1);
    CHECK(mentions(r, "obj:1/stray: final value 4 outside [0, 0]"));
}

TEST_CASE("a bounded counter read below its floor is a violation") {
    Op read = op(OpKind::read_number, "bc:0", Outcome::ok);
    read.number = -1;
    History h = {op(OpKind::add, "bc:0", Outcome::ok, 3),
                 op(OpKind::add, "bc:0", Outcome::unknown, -4), read};
    FinalState f;
    f.numbers["bc:0"] = 3;
    const CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 1);
    CHECK(mentions(r, "below the floor"));
}

TEST_CASE("an acknowledged add that vanished without a remove is a violation") {
    History h = {op(OpKind::set_add, "set:0", Outcome::ok, 0, "a"),
                 op(OpKind::set_add, "set:0", Outcome::ok, 0, "b"),
                 op(OpKind::set_add, "set:0", Outcome::ok, 0, "c"),
                 op(OpKind::set_remove, "set:0", Outcome::unknown, 0, "c")};
    FinalState f;
    f.sets["set:0"] = {"a"};
    const CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 1);
    CHECK(mentions(r, "add of \"b\" is lost"));
}

TEST_CASE("an element an acknowledged remove observed must stay removed") {
    History h = {op(OpKind::set_add, "set:0", Outcome::ok, 0, "a"),
                 op(OpKind::set_remove, "set:0", Outcome::ok, 0, "a")};
    FinalState f;
    f.sets["set:0"] = {"a"};
    const CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 1);
    CHECK(mentions(r, "acknowledged remove"));
}

TEST_CASE("set members no SADD wrote, or only a failed one, are violations") {
    Op read = op(OpKind::read_set, "set:1", Outcome::ok);
    read.members = {"ghost"};
    History h = {op(OpKind::set_add, "set:1", Outcome::failed, 0, "refused"),
                 op(OpKind::set_add, "set:1", Outcome::unknown, 0, "maybe"), read};
    FinalState f;
    f.sets["set:1"] = {"maybe", "refused", "stranger"};
    const CheckResult r = run(h, f);
    INFO(all(r));
    CHECK(r.violation_count == 3);
    CHECK(mentions(r, "\"stranger\", which no SADD wrote"));
    CHECK(mentions(r, "\"refused\", whose SADD failed"));
    CHECK(mentions(r, "a read"));
}

TEST_CASE("a register must hold a value some SET wrote, and not lose acknowledged ones") {
    History h = {op(OpKind::assign, "reg:0", Outcome::ok, 0, "v1"),
                 op(OpKind::assign, "reg:0", Outcome::failed, 0, "v2")};
    FinalState f;
    f.registers["reg:0"] = std::nullopt;
    CHECK(mentions(run(h, f), "reads nil"));
    f.registers["reg:0"] = "v2";
    CHECK(mentions(run(h, f), "whose SET failed"));
    f.registers["reg:0"] = "v9";
    CHECK(mentions(run(h, f), "which no SET wrote"));
    f.registers["reg:0"] = "v1";
    CHECK(run(h, f).violation_count == 0);
}

TEST_CASE("a register write that lost to one acknowledged before it started is a violation") {
    History h = {op(OpKind::assign, "reg:1", Outcome::ok, 0, "old"),
                 op(OpKind::assign, "reg:1", Outcome::ok, 0, "new")};
    FinalState f;
    f.registers["reg:1"] = "old";
    CHECK(mentions(run(h, f), "a stale write won"));
    f.registers["reg:1"] = "new";
    CHECK(run(h, f).violation_count == 0);
    // Overlapping writes may end either way.
    h[1].invoked_ms = h[0].completed_ms - 1;
    f.registers["reg:1"] = "old";
    CHECK(run(h, f).violation_count == 0);
}

TEST_CASE("a key the workload never wrote is a violation") {
    FinalState f;
    f.keys = {"intruder"};
    const CheckResult r = run({}, f);
    CHECK(r.violation_count == 1);
    CHECK(mentions(r, "never wrote"));
}

TEST_CASE(
    "final states a correct cluster could reach pass, and losing an acknowledged write fails") {
    rc::prop("acknowledged effects plus any subset of unknown ones pass the checker", [] {
        // A random history over a few keys; the model applies every ok effect and a random
        // choice of unknown ones, as a correct cluster may.
        const auto count = *rc::gen::inRange(1, 60);
        History h;
        FinalState f;
        std::map<std::string, std::set<std::string>> members;
        std::set<std::string> removed_ever;
        int serial = 0;
        for (int i = 0; i < count; ++i) {
            const auto kind = *rc::gen::inRange(0, 3);
            const auto outcome = static_cast<Outcome>(*rc::gen::inRange(0, 3));
            const bool happened = outcome == Outcome::ok ||
                                  (outcome == Outcome::unknown && *rc::gen::arbitrary<bool>());
            if (kind == 0) {
                const std::string key = "cnt:" + std::to_string(*rc::gen::inRange(0, 2));
                const auto amount = *rc::gen::inRange<std::int64_t>(-20, 21);
                h.push_back(op(OpKind::add, key, outcome, amount));
                if (happened) f.numbers[key] += amount;
            } else if (kind == 1) {
                const std::string key = "set:" + std::to_string(*rc::gen::inRange(0, 2));
                const std::string element = "e" + std::to_string(serial++);
                h.push_back(op(OpKind::set_add, key, outcome, 0, element));
                if (happened) members[key].insert(element);
            } else if (kind == 2) {
                const std::string key = "set:" + std::to_string(*rc::gen::inRange(0, 2));
                if (members[key].empty()) continue;
                const std::vector<std::string> present(members[key].begin(), members[key].end());
                const std::string element = *rc::gen::elementOf(present);
                h.push_back(op(OpKind::set_remove, key, outcome, 0, element));
                if (happened) members[key].erase(element);
            }
        }
        for (const auto& [key, set] : members) f.sets[key] = {set.begin(), set.end()};
        const CheckResult passing = run(h, f);
        RC_ASSERT(passing.violation_count == 0u);

        // Now drop one acknowledged increment's effect, if there is one.
        for (const Op& o : h) {
            if (o.kind == OpKind::add && o.outcome == Outcome::ok && o.amount != 0) {
                FinalState broken = f;
                // Below every reachable value: the acknowledged sum minus what unknowns can take.
                std::int64_t floor = 0;
                for (const Op& p : h)
                    if (p.key == o.key && p.kind == OpKind::add && p.outcome != Outcome::failed)
                        floor += p.outcome == Outcome::ok ? p.amount
                                                          : std::min<std::int64_t>(p.amount, 0);
                broken.numbers[o.key] = floor - 1;
                RC_ASSERT(run(h, broken).violation_count >= 1u);
                break;
            }
        }
    });
}

TEST_CASE("checker: a key written only with a TTL must be gone once every TTL ran out") {
    History h;
    Op first = op(OpKind::assign_expiring, "tmp:0", Outcome::ok, 0, "a");
    first.ttl_ms = 500;
    h.push_back(first);
    Op unknown = op(OpKind::assign_expiring, "tmp:0", Outcome::unknown, 0, "b");
    unknown.ttl_ms = 500;
    h.push_back(unknown);

    FinalState listed;
    listed.expiring = {"tmp:0"};
    listed.read_ms = unknown.completed_ms + 400;  // the unanswered write's TTL may still run
    CHECK(run(h, listed).violation_count == 0);

    listed.read_ms = unknown.completed_ms + 500 + 1000 + 1;  // past its TTL and the slack
    const CheckResult stale = run(h, listed);
    CHECK(mentions(stale, "tmp:0: still exists"));

    // An unanswered write may have run as late as the heal: its TTL counts from there.
    meridian::chaos::CheckOptions healed_late;
    healed_late.healed_ms = listed.read_ms - 600;
    CHECK(check({&h}, listed, &WorkloadKeys::policy_of, healed_late).violation_count == 0);

    FinalState gone;
    gone.read_ms = listed.read_ms;
    CHECK(run(h, gone).violation_count == 0);

    History failed_only;
    Op refused = op(OpKind::assign_expiring, "tmp:1", Outcome::failed, 0, "c");
    refused.ttl_ms = 500;
    failed_only.push_back(refused);
    FinalState exists;
    exists.expiring = {"tmp:1"};
    exists.read_ms = refused.completed_ms + 10;
    CHECK(mentions(run(failed_only, exists), "no SET ... PX of it succeeded"));
}
