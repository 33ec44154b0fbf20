// Handing a retired replica's bounded-counter rights to its heir
// (crdt/bounded_counter.hpp, "Handover").
#include <rapidcheck.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <set>
#include <vector>

#include "crdt/serialization.hpp"
#include "crdt/value.hpp"
#include "crdt/wide_int.hpp"
#include "property.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::BoundedCounter;
using meridian::crdt::Error;
using meridian::crdt::ReplicaId;
using meridian::crdt::detail::Int128;
using Floor = BoundedCounter::Floor;

constexpr ReplicaId us{1, 0};  // retires
constexpr ReplicaId eu{2, 0};  // its heir
constexpr ReplicaId ap{3, 0};
constexpr Floor zero{0, us};
const std::vector<ReplicaId> retiring_us{us};

template <class Result>
BoundedCounter ok(Result result) {
    REQUIRE(result.has_value());
    return *result;
}

}  // namespace

TEST_CASE("bounded handover: the heir holds the retired replica's rights, the value is unchanged") {
    BoundedCounter c;
    ok(c.increment(us, 100));
    ok(c.increment(eu, 5));
    ok(c.transfer(us, ap, 30, zero));
    ok(c.decrement(us, 20, zero));
    REQUIRE(c.rights(us, zero) == 50);

    const BoundedCounter delta = ok(c.hand_over(us, eu));
    CHECK(c.value() == 85);
    CHECK(c.rights(us, zero) == 0);
    CHECK(c.rights(eu, zero) == 55);
    CHECK(c.rights(ap, zero) == 30);
    CHECK(delta == c);  // the whole state travels

    // The heir spends them; the retired replica writes nothing more.
    ok(c.decrement(eu, 55, zero));
    CHECK(c.value() == 30);
    CHECK(c.decrement(us, 1, zero).error() == Error::retired);
    CHECK(c.increment(us, 1).error() == Error::retired);
    CHECK(c.transfer(ap, us, 1, zero).error() == Error::retired);
    CHECK(c.transfer(us, ap, 1, zero).error() == Error::retired);
}

TEST_CASE("bounded handover: the retired replica's later writes are undone wherever they arrive") {
    BoundedCounter at_us;
    ok(at_us.increment(us, 100));
    BoundedCounter at_eu = at_us;
    ok(at_eu.hand_over(us, eu));

    // Cut off, `us` goes on writing before it learns of its retirement.
    const BoundedCounter late_withdrawal = ok(at_us.decrement(us, 60, zero));
    const BoundedCounter late_deposit = ok(at_us.increment(us, 7));
    at_eu.join(late_withdrawal);
    at_eu.join(late_deposit);
    CHECK(at_eu.value() == 100);
    CHECK(at_eu.rights(eu, zero) == 100);
    ok(at_eu.decrement(eu, 100, zero));

    at_us.join(at_eu);
    CHECK(at_us == at_eu);
    CHECK(at_us.value() == 0);  // not -60: the floor holds
}

TEST_CASE("bounded handover: a negative floor's initial rights pass to the heir of their holder") {
    const Floor overdraft{-40, us};
    BoundedCounter c;
    ok(c.hand_over(us, eu));
    CHECK(c.rights(eu, overdraft) == 40);
    ok(c.decrement(eu, 40, overdraft));
    CHECK(c.value() == -40);
    CHECK(c.decrement(eu, 1, overdraft).error() == Error::insufficient_rights);
}

TEST_CASE("bounded handover: heirs chain, and the last one holds everything") {
    BoundedCounter c;
    ok(c.increment(us, 10));
    ok(c.increment(eu, 20));
    ok(c.hand_over(us, eu));
    CHECK(c.hand_over(ap, us).error() == Error::retired);  // a retired heir
    ok(c.hand_over(eu, ap));
    CHECK(c.rights(ap, zero) == 30);
    CHECK(c.rights(eu, zero) == 0);
    CHECK(c.rights(us, zero) == 0);
}

TEST_CASE("bounded handover: one heir per replica, and handing over again changes nothing") {
    BoundedCounter c;
    ok(c.increment(us, 10));
    ok(c.hand_over(us, eu));
    const BoundedCounter once = c;
    ok(c.increment(eu, 1));
    const BoundedCounter again = ok(c.hand_over(us, eu));
    CHECK(again == c);
    CHECK(c.handovers() == once.handovers());
    CHECK(c.hand_over(us, ap).error() == Error::retired);
    CHECK(c.hand_over(ap, ap).error() == Error::invalid_argument);
}

TEST_CASE(
    "bounded handover: rights a retiring replica sent are not spent before its handover, which "
    "may freeze less of them") {
    BoundedCounter at_us;
    ok(at_us.increment(us, 10));
    BoundedCounter at_eu = at_us;  // the heir's view: it never receives what follows
    const BoundedCounter sent = ok(at_us.transfer(us, ap, 10, zero));
    BoundedCounter at_ap;
    at_ap.join(sent);

    // Once `ap` knows `us` is retiring, the transfer does not count until the handover.
    CHECK(at_ap.rights(ap, zero, retiring_us) == 0);
    CHECK(at_ap.decrement(ap, 10, zero, retiring_us).error() == Error::insufficient_rights);

    // The heir, not holding the transfer, freezes `us` with all 10 rights and spends them.
    ok(at_eu.hand_over(us, eu));
    ok(at_eu.decrement(eu, 10, zero));
    at_ap.join(at_eu);
    CHECK(at_ap.value() == 0);
    CHECK(at_ap.rights(ap, zero, retiring_us) == 0);

    // Had `ap` spent the transfer, the two views together would be 10 below the floor.
    BoundedCounter careless;
    careless.join(sent);
    ok(careless.decrement(ap, 10, zero));
    careless.join(at_eu);
    CHECK(careless.value() == -10);
}

TEST_CASE("bounded handover: encodings round-trip, and malformed handovers are refused") {
    BoundedCounter c;
    ok(c.increment(us, 9));
    ok(c.transfer(us, ap, 4, zero));
    ok(c.hand_over(us, eu));
    const meridian::crdt::Value value(c);
    const std::string bytes = meridian::crdt::encode(value);
    auto decoded = meridian::crdt::decode<meridian::crdt::Value>(bytes);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == value);

    // Malformed handovers are refused: to itself, and another replica's transfer frozen.
    BoundedCounter bad = c;
    auto handovers = bad.handovers();
    handovers[0].heir = handovers[0].retired;
    bad.set_handovers(handovers);
    CHECK_FALSE(meridian::crdt::decode<meridian::crdt::Value>(
                    meridian::crdt::encode(meridian::crdt::Value(bad)))
                    .has_value());
    handovers = c.handovers();
    handovers[0].transfers[0].from = ap;
    bad.set_handovers(handovers);
    CHECK_FALSE(meridian::crdt::decode<meridian::crdt::Value>(
                    meridian::crdt::encode(meridian::crdt::Value(bad)))
                    .has_value());
}

// ---- the protocol, simulated ------------------------------------------------------------
//
// Four replicas write, transfer and exchange deltas and whole states in any order. At some
// step replica 0 retires: every other replica learns it then (and passes it as `retiring`
// from then on), the heir (replica 1) joins every write of replica 0 that any of them holds
// at that moment, and hands it over. Replica 0 goes on writing, unaware, and its writes
// arrive anywhere, before or after the handover. After every step no view is below the
// floor, no replica holds negative rights, and rights add up to value - floor; once
// everything arrived the views agree and the value is every acknowledged write of the
// others plus the retired replica's frozen part.

namespace {

struct SimStep {
    enum class Kind : std::uint8_t { increment, decrement, transfer, deliver, sync };
    Kind kind = Kind::increment;
    std::size_t replica = 0;
    std::size_t other = 0;  // transfer: to; deliver: which delta; sync: whose state
    std::uint64_t amount = 0;
    bool everything = false;  // decrement, transfer: every right held
};

std::ostream& operator<<(std::ostream& os, const SimStep& s) {
    static const char* names[] = {"increment", "decrement", "transfer", "deliver", "sync"};
    return os << "r" << s.replica << " " << names[static_cast<int>(s.kind)] << " other " << s.other
              << " amount " << (s.everything ? std::string("all") : std::to_string(s.amount));
}

rc::Gen<SimStep> sim_step() {
    using Kind = SimStep::Kind;
    return rc::gen::apply(
        [](Kind k, std::size_t r, std::size_t o, std::uint64_t a, bool all) {
            return SimStep{k, r, o, a, all};
        },
        rc::gen::weightedElement<Kind>({{3, Kind::increment},
                                        {4, Kind::decrement},
                                        {3, Kind::transfer},
                                        {6, Kind::deliver},
                                        {2, Kind::sync}}),
        rc::gen::inRange<std::size_t>(0, 4), rc::gen::inRange<std::size_t>(0, 64),
        rc::gen::inRange<std::uint64_t>(0, 12),
        rc::gen::weightedElement<bool>({{3, false}, {1, true}}));
}

struct Delta {
    BoundedCounter state;
    std::set<std::size_t> carries;  // indices of the deltas whose effects it holds
    std::size_t origin = 0;
};

struct Node {
    ReplicaId id;
    BoundedCounter view;
    std::set<std::size_t> holds;  // deltas whose effects the view holds
    bool knows_retired = false;
};

class HandoverSim {
public:
    HandoverSim(Floor floor) : floor_(floor) {
        for (std::uint16_t r = 1; r <= 4; ++r) nodes_.push_back({ReplicaId{r, 0}, {}, {}, false});
    }

    void run(const std::vector<SimStep>& steps, std::size_t retire_at) {
        for (std::size_t i = 0; i < steps.size(); ++i) {
            if (i == retire_at) retire();
            apply(steps[i]);
        }
        if (retire_at >= steps.size()) retire();
    }

    void deliver_everything() {
        for (auto& n : nodes_)
            for (std::size_t d = 0; d < deltas_.size(); ++d) receive(n, deltas_[d]);
        for (const auto& n : nodes_) RC_ASSERT(n.view == nodes_[0].view);
        const BoundedCounter& all = nodes_[0].view;
        const BoundedCounter::Handover* h = all.handover(nodes_[0].id);
        RC_ASSERT(h != nullptr);
        RC_ASSERT(Int128(all.value()) ==
                  acknowledged_by_others_ + Int128(h->increments) - Int128(h->decrements));
    }

private:
    std::vector<ReplicaId> retiring(const Node& n) const {
        if (n.knows_retired && &n != &nodes_[0]) return {nodes_[0].id};
        return {};
    }

    void apply(const SimStep& s) {
        Node& n = nodes_[s.replica];
        const auto retiring_here = retiring(n);
        const Int128 held = n.view.rights(n.id, floor_, retiring_here);
        const std::uint64_t amount =
            s.everything ? static_cast<std::uint64_t>(std::max<Int128>(held, 0)) : s.amount;
        std::optional<BoundedCounter> delta;
        switch (s.kind) {
            case SimStep::Kind::increment:
                if (auto d = n.view.increment(n.id, amount)) delta = *d, count(n, amount);
                break;
            case SimStep::Kind::decrement:
                if (auto d = n.view.decrement(n.id, amount, floor_, retiring_here)) {
                    RC_ASSERT(held >= Int128(amount));
                    delta = *d, count(n, -Int128(amount));
                }
                break;
            case SimStep::Kind::transfer: {
                const ReplicaId to = nodes_[s.other % nodes_.size()].id;
                if (auto d = n.view.transfer(n.id, to, amount, floor_, retiring_here)) delta = *d;
                break;
            }
            case SimStep::Kind::deliver:
                if (!deltas_.empty()) receive(n, deltas_[s.other % deltas_.size()]);
                return;
            case SimStep::Kind::sync: {
                const Node& from = nodes_[s.other % nodes_.size()];
                receive(n, Delta{from.view, from.holds, 0});
                return;
            }
        }
        if (delta) record(n, std::move(*delta));
        check(n.view);
    }

    void count(const Node& n, Int128 amount) {
        if (&n != &nodes_[0]) acknowledged_by_others_ += amount;
    }

    void record(Node& n, BoundedCounter delta) {
        const std::size_t index = deltas_.size();
        n.holds.insert(index);
        std::set<std::size_t> carries = n.holds;
        deltas_.push_back(
            {std::move(delta), std::move(carries), static_cast<std::size_t>(&n - &nodes_[0])});
        check(deltas_.back().state);
    }

    void receive(Node& n, const Delta& d) {
        n.view.join(d.state);
        n.holds.insert(d.carries.begin(), d.carries.end());
        check(n.view);
    }

    // Every other replica learns of the retirement; the heir joins every delta of the retired
    // replica that any of them holds (its log catching up to their cuts), then hands over.
    void retire() {
        Node& heir = nodes_[1];
        for (std::size_t i = 1; i < nodes_.size(); ++i) {
            nodes_[i].knows_retired = true;
            for (std::size_t d : nodes_[i].holds)
                if (deltas_[d].origin == 0) receive(heir, deltas_[d]);
        }
        auto delta = heir.view.hand_over(nodes_[0].id, heir.id);
        RC_ASSERT(delta.has_value());
        record(heir, std::move(*delta));
    }

    void check(const BoundedCounter& view) const {
        RC_ASSERT(view.value() >= floor_.min);
        Int128 sum = 0;
        for (const auto& n : nodes_) {
            const Int128 rights = view.rights(n.id, floor_);
            RC_ASSERT(rights >= 0);
            sum += rights;
        }
        RC_ASSERT(sum == Int128(view.value()) - floor_.min);
    }

    Floor floor_;
    std::vector<Node> nodes_;
    std::vector<Delta> deltas_;
    Int128 acknowledged_by_others_ = 0;
};

}  // namespace

TEST_CASE(
    "bounded handover: through any interleaving of writes, deltas and a retirement, no view "
    "breaks the floor and all converge on the frozen part") {
    meridian::test::check_property([] {
        const auto min = *rc::gen::element<std::int64_t>(0, -15);
        const auto holder = *rc::gen::inRange<std::uint16_t>(1, 5);
        const auto steps = *rc::gen::container<std::vector<SimStep>>(sim_step());
        const auto retire_at = *rc::gen::inRange<std::size_t>(0, steps.size() + 1);
        HandoverSim sim(Floor{min, ReplicaId{holder, 0}});
        sim.run(steps, retire_at);
        sim.deliver_everything();
    });
}
