#include "crdt/lww_register.hpp"

#include <catch2/catch.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "laws.hpp"
#include "property.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Hlc;
using meridian::crdt::ReplicaId;
using meridian::crdt::WriteStamp;
using meridian::test::LwwModel;
using Register = meridian::crdt::LwwRegister<std::string>;

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

Hlc at(std::uint64_t ms, std::uint16_t logical = 0) {
    return Hlc::from_parts(ms, logical);
}

}  // namespace

TEST_CASE("lww register: join is commutative, associative and idempotent") {
    meridian::test::check_join_laws<LwwModel>();
}

TEST_CASE("lww register: joining a write's delta gives the written state, even a losing write") {
    meridian::test::check_delta_mutators<LwwModel>();
}

TEST_CASE("lww register: replicas converge on the write with the highest (time, writer) stamp") {
    meridian::test::check_convergence<LwwModel>();
}

TEST_CASE("lww register: on equal times the higher writer wins, in either join order") {
    Register a, b;
    const Register from_a = a.assign(us, at(10), "us");
    const Register from_b = b.assign(eu, at(10), "eu");
    a.join(from_b);
    b.join(from_a);
    CHECK(a.value() == "eu");
    CHECK(a == b);
}

TEST_CASE("lww register: equal stamps with different values still join commutatively") {
    // One write carries one value, so this should never happen; if it does,
    // both sides must still pick the same value.
    Register a, b;
    a.assign(us, at(10), "apple");
    b.assign(us, at(10), "banana");
    Register ab = a, ba = b;
    ab.join(b);
    ba.join(a);
    CHECK(ab == ba);
    CHECK(ab.value() == "banana");
    Register deleted;
    deleted.assign(us, at(10), std::nullopt);
    Register d = deleted;
    d.join(a);
    a.join(deleted);
    CHECK(a == d);
}

TEST_CASE("lww register: a delete stamped later wins, one stamped earlier loses") {
    Register r;
    r.assign(us, at(10), "v");
    r.assign(eu, at(9), std::nullopt);
    CHECK(r.value() == "v");
    r.assign(eu, at(11), std::nullopt);
    CHECK_FALSE(r.value().has_value());
    CHECK(r.written());
    r.assign(us, at(11, 1), "back");
    CHECK(r.value() == "back");
}

TEST_CASE("lww register: a write stamped after receiving wins over what was received") {
    Register a, b;
    Hlc clock_a, clock_b;
    clock_a = Hlc::tick(clock_a, 500);  // a's wall clock is ahead
    const Register from_a = a.assign(us, clock_a, "from us");
    b.join(from_a);
    clock_b = Hlc::receive(clock_b, from_a.stamp().time, 100);
    clock_b = Hlc::tick(clock_b, 100);
    const Register from_b = b.assign(eu, clock_b, "from eu");
    a.join(from_b);
    CHECK(a.value() == "from eu");
    CHECK(a == b);
}

TEST_CASE("lww register: bottom is never written and joins as the identity") {
    Register bottom;
    CHECK_FALSE(bottom.written());
    CHECK_FALSE(bottom.value().has_value());
    Register r;
    r.assign(us, at(1), "v");
    Register joined = r;
    joined.join(bottom);
    CHECK(joined == r);
    bottom.join(r);
    CHECK(bottom == r);
}

TEST_CASE("lww register: a write that replaces one it never observed is reported as a conflict") {
    Register a, b;
    const Register from_a = a.assign(us, at(10), "from us");
    const Register from_b = b.assign(eu, at(11), "from eu");
    CHECK_FALSE(b.join(from_a));  // loses: not an overwrite
    const auto lost = a.join(from_b);
    REQUIRE(lost);
    CHECK(lost->loser == WriteStamp{at(10), us});
    CHECK(lost->value == "from us");
    CHECK(a == b);
    REQUIRE(a.seen().size() == 1);
    CHECK(a.seen()[0].replica == us);
    CHECK(a.seen()[0].time == at(10));
}

TEST_CASE("lww register: a write that observed the value it replaces is no conflict") {
    Register a, b;
    const Register from_a = a.assign(us, at(10), "from us");
    b.join(from_a);
    const Register from_b = b.assign(eu, at(11), "from eu");
    CHECK_FALSE(a.join(from_b));
    CHECK(a.value() == "from eu");
    // Nor is a later write of the same replica.
    CHECK_FALSE(a.join(b.assign(eu, at(12), std::nullopt)));
}

TEST_CASE("lww register: a write that saw the value through a third replica is no conflict") {
    constexpr ReplicaId ap{3, 0};
    Register a, b, c;
    const Register from_a = a.assign(us, at(10), "a1");
    c.join(from_a);
    const Register c1 = c.assign(ap, at(11), "c1");
    const Register c2 = c.assign(ap, at(12), "c2");
    // b receives c's writes batched into one delta, which says c had seen a1.
    Register batch = c1;
    batch.join(c2);
    b.join(from_a);
    CHECK_FALSE(b.join(batch));
    // a never got c1 alone, and still knows c2 observed a1.
    CHECK_FALSE(a.join(c2));
    CHECK(a == b);
}

TEST_CASE("lww register: a deleted register reports the delete as the loser") {
    Register a, b;
    b.join(a.assign(us, at(5), "old"));  // b saw an older write of us, not the delete
    const Register gone = a.assign(us, at(10), std::nullopt);
    const auto lost = a.join(b.assign(eu, at(11), "new"));
    REQUIRE(lost);
    CHECK_FALSE(lost->value);
    CHECK(lost->loser == gone.stamp());
}

// Writes and deliveries among three replicas, deltas batched at random, with every write's
// causal past tracked beside: the register reports an overwrite exactly when the write it
// replaces is not in the replacing state's past, and keeps exactly the latest observed write of
// every replica but the winner's.
TEST_CASE("lww register: conflicts are reported exactly when neither write observed the other") {
    meridian::test::check_property([] {
        struct Known {
            Register state;
            std::set<WriteStamp> past;  // every write the state observed
        };
        const ReplicaId replicas[] = {{1, 0}, {2, 0}, {3, 0}};
        Known at_replica[3];
        Hlc clocks[3];
        std::vector<Known> in_flight;
        const auto join = [](Known& into, const Known& delta) {
            const bool was_written = into.state.written();
            const WriteStamp before = into.state.stamp();
            const auto lost = into.state.join(delta.state);
            const bool replaced = was_written && into.state.stamp() != before;
            const bool concurrent = replaced && !delta.past.contains(before);
            RC_ASSERT(lost.has_value() == concurrent);
            if (lost) RC_ASSERT(lost->loser == before);
            into.past.insert(delta.past.begin(), delta.past.end());
        };
        const auto check_seen = [](const Known& k) {
            std::map<ReplicaId, Hlc> latest;
            for (const WriteStamp& s : k.past)
                latest[s.writer] = std::max(latest[s.writer], s.time);
            const WriteStamp winner = k.state.stamp();
            if (latest[winner.writer] <= winner.time) latest.erase(winner.writer);
            RC_ASSERT(k.state.seen().size() == latest.size());
            for (const auto& s : k.state.seen()) RC_ASSERT(latest[s.replica] == s.time);
        };
        const int steps = *rc::gen::inRange(1, 60);
        for (int step = 0; step < steps; ++step) {
            const int r = *rc::gen::inRange(0, 3);
            switch (*rc::gen::inRange(0, 4)) {
                case 0: {  // a write at r, with a clock that may lag another replica's
                    clocks[r] = Hlc::tick(clocks[r], *rc::gen::inRange<std::uint64_t>(1, 50));
                    std::optional<std::string> value;
                    if (*rc::gen::inRange(0, 4) != 0) value = std::to_string(step);
                    Known delta{at_replica[r].state.assign(replicas[r], clocks[r], value),
                                at_replica[r].past};
                    delta.past.insert(delta.state.stamp());
                    at_replica[r].past = delta.past;
                    in_flight.push_back(std::move(delta));
                    break;
                }
                case 1:  // a delta in flight delivered to r
                case 2: {
                    if (in_flight.empty()) break;
                    const auto i = *rc::gen::inRange<std::size_t>(0, in_flight.size());
                    join(at_replica[r], in_flight[i]);
                    if (in_flight[i].state.written())
                        clocks[r] = Hlc::receive(clocks[r], in_flight[i].state.stamp().time, 0);
                    break;
                }
                case 3: {  // two deltas in flight batched into one
                    if (in_flight.size() < 2) break;
                    const auto i = *rc::gen::inRange<std::size_t>(0, in_flight.size() - 1);
                    Known batch = in_flight[i];
                    (void)batch.state.join(in_flight.back().state);
                    batch.past.insert(in_flight.back().past.begin(), in_flight.back().past.end());
                    in_flight.push_back(std::move(batch));
                    break;
                }
            }
            for (const Known& k : at_replica) check_seen(k);
        }
    });
}
