#include "conflict/operations.hpp"

#include <rapidcheck.h>
#include <rapidcheck/catch.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "crdt/show.hpp"

using meridian::conflict::add_members;
using meridian::conflict::add_to_counter;
using meridian::conflict::delete_value;
using meridian::conflict::Policy;
using meridian::conflict::Refusal;
using meridian::conflict::remove_members;
using meridian::conflict::set_value;
using meridian::conflict::transfer_rights;
using meridian::conflict::Writer;
using meridian::crdt::BoundedCounter;
using meridian::crdt::Hlc;
using meridian::crdt::PnCounter;
using meridian::crdt::Register;
using meridian::crdt::ReplicaId;
using meridian::crdt::StringSet;
using meridian::crdt::Value;
using meridian::crdt::ValueType;

namespace meridian::conflict {

std::ostream& operator<<(std::ostream& os, Refusal r) {
    switch (r) {
        case Refusal::wrong_type:
            return os << "wrong_type";
        case Refusal::overflow:
            return os << "overflow";
        case Refusal::below_floor:
            return os << "below_floor";
        case Refusal::insufficient_rights:
            return os << "insufficient_rights";
        case Refusal::not_supported:
            return os << "not_supported";
        case Refusal::not_an_integer:
            return os << "not_an_integer";
        case Refusal::stale_epoch:
            return os << "stale_epoch";
        case Refusal::retired:
            return os << "retired";
    }
    return os << "refusal?";
}

}  // namespace meridian::conflict

namespace {

constexpr ReplicaId us{1, 0};
constexpr ReplicaId eu{2, 0};

Writer writer_at(ReplicaId replica, std::uint64_t ms, ReplicaId floor_holder = us) {
    return Writer{replica, Hlc::from_parts(ms, 0), floor_holder};
}

Policy policy_of(ValueType type, std::optional<std::int64_t> min = std::nullopt,
                 bool home_routed = false) {
    Policy p;
    p.match = "k*";
    p.type = type;
    p.min = min;
    p.home_routed = home_routed;
    return p;
}

Policy home_counter(std::int64_t min) {
    return policy_of(ValueType::counter, min, true);
}

std::int64_t counter_value(const Value& v) {
    if (const auto* c = v.as<PnCounter>()) return c->value();
    if (const auto* b = v.as<BoundedCounter>()) return b->value();
    FAIL("not a counter: " << v);
    return 0;
}

std::vector<std::string> members(const Value& v) {
    return v.as<StringSet>()->value();
}

// Applies `amount` to a fresh counter state of `policy`'s type and checks it took.
Value counter_at(const Policy& policy, std::int64_t amount, const Writer& w) {
    Value state = Value::empty(policy.type);
    if (amount != 0) {
        auto written = add_to_counter(state, policy, w, amount);
        REQUIRE(written.has_value());
    }
    return state;
}

// A write refused with `why` that left `state` exactly as it was.
template <class Op>
void require_refused(Value& state, Refusal why, Op op) {
    const Value before = state;
    auto written = op(state);
    REQUIRE_FALSE(written.has_value());
    CHECK(written.error() == why);
    CHECK(state == before);
}

}  // namespace

// ---- registers -----------------------------------------------------------------

TEST_CASE("SET stores the value and returns it as a delta another replica can join") {
    Value state = Value::empty(ValueType::lww);
    auto written = set_value(state, writer_at(us, 100), "hello");
    REQUIRE(written.has_value());
    CHECK(written->count == 1);
    REQUIRE(state.as<Register>()->value() == std::optional<std::string>("hello"));
    CHECK(state.exists());

    Value elsewhere = Value::empty(ValueType::lww);
    REQUIRE(elsewhere.join(written->delta).has_value());
    CHECK(elsewhere == state);
}

TEST_CASE("of two SETs the later stamp wins whichever arrives first") {
    Value early = Value::empty(ValueType::lww);
    Value late = Value::empty(ValueType::lww);
    auto first = set_value(early, writer_at(us, 100), "first");
    auto second = set_value(late, writer_at(eu, 200), "second");
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    REQUIRE(early.join(second->delta).has_value());
    REQUIRE(late.join(first->delta).has_value());
    CHECK(early == late);
    CHECK(late.as<Register>()->value() == std::optional<std::string>("second"));
}

TEST_CASE("SET on a key of another type is refused and changes nothing") {
    for (ValueType type : {ValueType::counter, ValueType::set, ValueType::bounded_counter}) {
        INFO("type " << meridian::crdt::name_of(type));
        Value state = Value::empty(type);
        if (type == ValueType::set) {
            const std::vector<std::string> m{"a"};
            REQUIRE(add_members(state, writer_at(us, 1), m).has_value());
        } else {
            state = counter_at(policy_of(type), 3, writer_at(us, 1));
        }
        require_refused(state, Refusal::wrong_type,
                        [](Value& s) { return set_value(s, writer_at(us, 5), "x"); });
    }
}

// ---- counters ------------------------------------------------------------------

TEST_CASE("INCRBY and DECRBY add up on a counter, and each delta is the replica's whole entry") {
    const Policy policy = policy_of(ValueType::counter);
    Value state = Value::empty(ValueType::counter);
    Value replica = Value::empty(ValueType::counter);
    std::int64_t expected = 0;
    for (std::int64_t amount : {5, -2, 10, -20, 1}) {
        auto written = add_to_counter(state, policy, writer_at(us, 1), amount);
        REQUIRE(written.has_value());
        expected += amount;
        CHECK(counter_value(state) == expected);
        // Joining only the latest delta brings a replica all the way: it is state, not "+n".
        Value fresh = Value::empty(ValueType::counter);
        REQUIRE(fresh.join(written->delta).has_value());
        CHECK(counter_value(fresh) == expected);
        REQUIRE(replica.join(written->delta).has_value());
        REQUIRE(replica.join(written->delta).has_value());  // twice is harmless
    }
    CHECK(replica == state);
}

TEST_CASE("increments of two regions sum") {
    const Policy policy = policy_of(ValueType::counter);
    Value a = Value::empty(ValueType::counter);
    Value b = Value::empty(ValueType::counter);
    auto da = add_to_counter(a, policy, writer_at(us, 1), 4);
    auto db = add_to_counter(b, policy, writer_at(eu, 1), -9);
    REQUIRE(da.has_value());
    REQUIRE(db.has_value());
    REQUIRE(a.join(db->delta).has_value());
    REQUIRE(b.join(da->delta).has_value());
    CHECK(a == b);
    CHECK(counter_value(a) == -5);
}

TEST_CASE("a counter refuses to leave the 64-bit range and keeps its value") {
    const Policy policy = policy_of(ValueType::counter);
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    Value high = counter_at(policy, max, writer_at(us, 1));
    require_refused(high, Refusal::overflow,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 2), 1); });
    Value low = counter_at(policy, min, writer_at(us, 1));
    require_refused(low, Refusal::overflow,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 2), -1); });
    CHECK(counter_value(low) == min);
}

TEST_CASE("a counter without a floor goes below zero freely") {
    const Policy policy = policy_of(ValueType::counter);
    Value state = counter_at(policy, -1000, writer_at(us, 1));
    CHECK(counter_value(state) == -1000);
}

TEST_CASE("a home-routed counter reaches its min exactly but never passes it") {
    for (std::int64_t min : {std::int64_t{0}, std::int64_t{-3}, std::int64_t{7}}) {
        INFO("min " << min);
        const Policy policy = home_counter(min);
        const std::int64_t start = std::max<std::int64_t>(min, 0) + 5;
        Value state = counter_at(policy, start, writer_at(us, 1));
        // One below the boundary is refused ...
        require_refused(state, Refusal::below_floor, [&](Value& s) {
            return add_to_counter(s, policy, writer_at(us, 2), min - start - 1);
        });
        // ... exactly the boundary is allowed ...
        auto to_floor = add_to_counter(state, policy, writer_at(us, 3), min - start);
        REQUIRE(to_floor.has_value());
        CHECK(counter_value(state) == min);
        // ... and from the floor, any decrement is refused while increments still work.
        require_refused(state, Refusal::below_floor,
                        [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 4), -1); });
        REQUIRE(add_to_counter(state, policy, writer_at(us, 5), 1).has_value());
        CHECK(counter_value(state) == min + 1);
    }
}

TEST_CASE("a home-routed counter refuses a decrement exactly when it would end below min") {
    rc::prop("floor", [](std::int32_t start, std::int32_t amount, std::int16_t min) {
        const Policy policy = home_counter(min);
        Value state = Value::empty(ValueType::counter);
        // Build the starting value with a plain counter so the floor does not stop it.
        if (start != 0)
            RC_ASSERT(add_to_counter(state, policy_of(ValueType::counter), writer_at(eu, 1), start)
                          .has_value());
        const Value before = state;
        auto written = add_to_counter(state, policy, writer_at(us, 2), amount);
        const std::int64_t next = std::int64_t{start} + amount;
        const bool refuse = amount < 0 && next < min;
        RC_ASSERT(written.has_value() == !refuse);
        if (refuse) {
            RC_ASSERT(written.error() == Refusal::below_floor);
            RC_ASSERT(state == before);
        } else {
            RC_ASSERT(counter_value(state) == next);
        }
    });
}

TEST_CASE(
    "a new owner's first write seals a home counter: the old owner's unshipped writes stop "
    "counting") {
    const Policy policy = home_counter(0);
    Writer old_owner = writer_at(us, 1);
    Value at_old = counter_at(policy, 100, old_owner);
    Value at_new = at_old;  // everything the old owner shipped
    // The old owner's last withdrawal, in its last lease: nobody else receives it.
    auto late = add_to_counter(at_old, policy, writer_at(us, 2), -80);
    REQUIRE(late.has_value());

    // A failover gives the home to eu at epoch 1. A refused first write does not seal ...
    Writer new_owner = writer_at(eu, 3);
    new_owner.home_epoch = 1;
    require_refused(at_new, Refusal::below_floor,
                    [&](Value& s) { return add_to_counter(s, policy, new_owner, -101); });
    CHECK(at_new.as<PnCounter>()->sealed_epoch() == 0);
    // ... the first that executes does, and the floor holds once the late write arrives.
    auto first = add_to_counter(at_new, policy, new_owner, -90);
    REQUIRE(first.has_value());
    CHECK(first->delta.as<PnCounter>()->sealed_epoch() == 1);
    REQUIRE(at_new.join(late->delta).has_value());
    REQUIRE(at_old.join(first->delta).has_value());
    CHECK(counter_value(at_new) == 10);
    CHECK(counter_value(at_old) == 10);

    // The old owner, fenced, is refused if it still tries; the new owner goes on.
    require_refused(at_old, Refusal::stale_epoch,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 4), 5); });
    new_owner.time = Hlc::from_parts(5, 0);
    REQUIRE(add_to_counter(at_new, policy, new_owner, -10).has_value());
    CHECK(counter_value(at_new) == 0);
}

TEST_CASE("the owner of a home back under a new replica id seals its counters again") {
    // After an unclean restart under fsync = everysec a region writes as a new replica.
    const Policy policy = home_counter(0);
    Writer owner = writer_at(eu, 1);
    owner.home_epoch = 1;
    Value state = counter_at(policy, 10, owner);
    Writer reborn = writer_at(ReplicaId{2, 1}, 2);
    reborn.home_epoch = 1;
    auto written = add_to_counter(state, policy, reborn, -4);
    REQUIRE(written.has_value());
    CHECK(counter_value(state) == 6);
    const auto* seal = state.as<PnCounter>()->seal_in_force();
    REQUIRE(seal);
    CHECK(seal->epoch == 1);
    CHECK(seal->generation == 2);
    CHECK(seal->owner == ReplicaId{2, 1});
    // A writer of an earlier epoch, or of none (the policy changed), is refused.
    require_refused(state, Refusal::stale_epoch,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 3), 1); });
}

TEST_CASE("DEL by a new owner of a home counter seals it before resetting") {
    const Policy policy = home_counter(0);
    Value at_old = counter_at(policy, 50, writer_at(us, 1));
    Value at_new = at_old;
    auto late = add_to_counter(at_old, policy, writer_at(us, 2), -50);
    REQUIRE(late.has_value());
    Writer new_owner = writer_at(eu, 3);
    new_owner.home_epoch = 2;
    auto deleted = delete_value(at_new, new_owner);
    REQUIRE(deleted.has_value());
    CHECK(deleted->count == 1);
    REQUIRE(at_new.join(late->delta).has_value());
    CHECK(counter_value(at_new) == 0);  // not -50
    CHECK_FALSE(at_new.exists());
    REQUIRE(add_to_counter(at_new, policy, new_owner, 7).has_value());
    REQUIRE(at_old.join(at_new).has_value());
    CHECK(counter_value(at_old) == 7);
}

// ---- bounded counters ----------------------------------------------------------

TEST_CASE("a bounded counter decrements only within the rights its replica holds") {
    const Policy policy = policy_of(ValueType::bounded_counter, 0);
    Value state = counter_at(policy, 10, writer_at(us, 1));
    CHECK(state.as<BoundedCounter>()->rights(us, {0, us}) == 10);

    REQUIRE(add_to_counter(state, policy, writer_at(us, 2), -10).has_value());
    CHECK(counter_value(state) == 0);
    require_refused(state, Refusal::insufficient_rights,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 3), -1); });
    // Another replica that sees the value but holds no rights is refused too.
    Value other = counter_at(policy, 3, writer_at(us, 4));
    require_refused(other, Refusal::insufficient_rights,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(eu, 5), -1); });
}

TEST_CASE("a bounded counter's overdraft belongs to the floor holder") {
    const Policy policy = policy_of(ValueType::bounded_counter, -5);
    Value state = Value::empty(ValueType::bounded_counter);
    // eu is not the floor holder (us is): it may not spend the overdraft.
    require_refused(state, Refusal::insufficient_rights,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(eu, 1, us), -1); });
    REQUIRE(add_to_counter(state, policy, writer_at(us, 2, us), -5).has_value());
    CHECK(counter_value(state) == -5);
    require_refused(state, Refusal::insufficient_rights,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 3, us), -1); });
}

TEST_CASE("transferred rights let another replica decrement, and no more than that") {
    const Policy policy = policy_of(ValueType::bounded_counter, 0);
    Value at_us = counter_at(policy, 10, writer_at(us, 1));
    auto moved = transfer_rights(at_us, policy, writer_at(us, 2), eu, 4);
    REQUIRE(moved.has_value());
    CHECK(at_us.as<BoundedCounter>()->rights(us, {0, us}) == 6);

    Value at_eu = Value::empty(ValueType::bounded_counter);
    REQUIRE(at_eu.join(moved->delta).has_value());
    REQUIRE(add_to_counter(at_eu, policy, writer_at(eu, 3), -4).has_value());
    CHECK(counter_value(at_eu) == 6);
    require_refused(at_eu, Refusal::insufficient_rights,
                    [&](Value& s) { return add_to_counter(s, policy, writer_at(eu, 4), -1); });
    // us cannot give away more than it holds.
    require_refused(at_us, Refusal::insufficient_rights,
                    [&](Value& s) { return transfer_rights(s, policy, writer_at(us, 5), eu, 7); });
}

TEST_CASE("rights transfers apply to bounded counters only") {
    const Policy policy = policy_of(ValueType::counter);
    Value state = counter_at(policy, 10, writer_at(us, 1));
    require_refused(state, Refusal::wrong_type,
                    [&](Value& s) { return transfer_rights(s, policy, writer_at(us, 2), eu, 1); });
}

TEST_CASE("a transfer to oneself is refused") {
    const Policy policy = policy_of(ValueType::bounded_counter, 0);
    Value state = counter_at(policy, 10, writer_at(us, 1));
    require_refused(state, Refusal::not_supported,
                    [&](Value& s) { return transfer_rights(s, policy, writer_at(us, 2), us, 1); });
}

TEST_CASE("INCRBY on a register or a set is refused") {
    const Policy policy = policy_of(ValueType::counter);
    for (ValueType type : {ValueType::lww, ValueType::set}) {
        INFO("type " << meridian::crdt::name_of(type));
        Value state = Value::empty(type);
        require_refused(state, Refusal::wrong_type,
                        [&](Value& s) { return add_to_counter(s, policy, writer_at(us, 1), 1); });
    }
}

// ---- sets ----------------------------------------------------------------------

TEST_CASE("SADD and SREM count only the members they change") {
    Value state = Value::empty(ValueType::set);
    const std::vector<std::string> first{"a", "b", "a"};
    auto added = add_members(state, writer_at(us, 1), first);
    REQUIRE(added.has_value());
    CHECK(added->count == 2);
    CHECK(members(state) == std::vector<std::string>{"a", "b"});

    const std::vector<std::string> second{"b", "c"};
    auto again = add_members(state, writer_at(us, 2), second);
    REQUIRE(again.has_value());
    CHECK(again->count == 1);

    const std::vector<std::string> gone{"a", "zzz", "c"};
    auto removed = remove_members(state, writer_at(us, 3), gone);
    REQUIRE(removed.has_value());
    CHECK(removed->count == 2);
    CHECK(members(state) == std::vector<std::string>{"b"});
}

TEST_CASE("set deltas bring another replica to the same members") {
    Value state = Value::empty(ValueType::set);
    Value replica = Value::empty(ValueType::set);
    const std::vector<std::string> add{"x", "y", "z"};
    const std::vector<std::string> rem{"y"};
    auto added = add_members(state, writer_at(us, 1), add);
    auto removed = remove_members(state, writer_at(us, 2), rem);
    REQUIRE(added.has_value());
    REQUIRE(removed.has_value());
    REQUIRE(replica.join(added->delta).has_value());
    REQUIRE(replica.join(removed->delta).has_value());
    CHECK(replica == state);
    CHECK(members(replica) == std::vector<std::string>{"x", "z"});
}

TEST_CASE("SADD and SREM on a key of another type are refused") {
    const std::vector<std::string> m{"a"};
    for (ValueType type : {ValueType::lww, ValueType::counter, ValueType::bounded_counter}) {
        INFO("type " << meridian::crdt::name_of(type));
        Value state = Value::empty(type);
        require_refused(state, Refusal::wrong_type,
                        [&](Value& s) { return add_members(s, writer_at(us, 1), m); });
        require_refused(state, Refusal::wrong_type, [&](Value& s) { return remove_members(s, writer_at(us, 1), m); });
    }
}

// ---- DEL -----------------------------------------------------------------------

TEST_CASE("DEL of a register writes a tombstone that orders by its stamp") {
    Value state = Value::empty(ValueType::lww);
    REQUIRE(set_value(state, writer_at(us, 100), "v").has_value());
    auto deleted = delete_value(state, writer_at(us, 200));
    REQUIRE(deleted.has_value());
    CHECK(deleted->count == 1);
    CHECK_FALSE(state.exists());
    CHECK(state.as<Register>()->written());  // a tombstone, not bottom

    // A concurrent SET stamped after the DEL wins over it; one stamped before loses.
    Value later = Value::empty(ValueType::lww);
    auto set_later = set_value(later, writer_at(eu, 300), "later");
    Value earlier = Value::empty(ValueType::lww);
    auto set_earlier = set_value(earlier, writer_at(eu, 150), "earlier");
    REQUIRE(set_later.has_value());
    REQUIRE(set_earlier.has_value());

    Value a = state;
    REQUIRE(a.join(set_earlier->delta).has_value());
    CHECK_FALSE(a.exists());
    REQUIRE(earlier.join(deleted->delta).has_value());
    CHECK(earlier == a);

    Value b = state;
    REQUIRE(b.join(set_later->delta).has_value());
    CHECK(b.as<Register>()->value() == std::optional<std::string>("later"));
    REQUIRE(later.join(deleted->delta).has_value());
    CHECK(later == b);
}

TEST_CASE("DEL of a key that does not exist counts 0") {
    for (ValueType type : {ValueType::lww, ValueType::counter, ValueType::set}) {
        INFO("type " << meridian::crdt::name_of(type));
        Value state = Value::empty(type);
        auto deleted = delete_value(state, writer_at(us, 1));
        REQUIRE(deleted.has_value());
        CHECK(deleted->count == 0);
        CHECK_FALSE(state.exists());
    }
}

TEST_CASE("DEL of a counter resets what was observed, and a concurrent increment survives") {
    const Policy policy = policy_of(ValueType::counter);
    Value a = Value::empty(ValueType::counter);
    Value b = Value::empty(ValueType::counter);
    auto inc_a = add_to_counter(a, policy, writer_at(us, 1), 10);
    auto inc_b = add_to_counter(b, policy, writer_at(eu, 1), 5);
    REQUIRE(inc_a.has_value());
    REQUIRE(inc_b.has_value());
    REQUIRE(a.join(inc_b->delta).has_value());
    REQUIRE(b.join(inc_a->delta).has_value());
    REQUIRE(counter_value(a) == 15);

    auto deleted = delete_value(a, writer_at(us, 2));  // a has seen both increments
    REQUIRE(deleted.has_value());
    CHECK(deleted->count == 1);
    CHECK(counter_value(a) == 0);
    CHECK_FALSE(a.exists());

    auto concurrent = add_to_counter(b, policy, writer_at(eu, 2), 7);  // b has not seen the DEL
    REQUIRE(concurrent.has_value());
    REQUIRE(a.join(concurrent->delta).has_value());
    REQUIRE(b.join(deleted->delta).has_value());
    CHECK(a == b);
    CHECK(counter_value(a) == 7);
    CHECK(a.exists());
}

TEST_CASE("DEL of a set removes observed members, and a concurrent add survives") {
    Value a = Value::empty(ValueType::set);
    const std::vector<std::string> initial{"x", "y"};
    auto added = add_members(a, writer_at(us, 1), initial);
    REQUIRE(added.has_value());
    Value b = a;

    auto deleted = delete_value(a, writer_at(us, 2));
    REQUIRE(deleted.has_value());
    CHECK(deleted->count == 1);
    CHECK_FALSE(a.exists());

    // Concurrently, b adds a new member and re-adds an observed one.
    const std::vector<std::string> concurrent{"z", "x"};
    auto added_b = add_members(b, writer_at(eu, 2), concurrent);
    REQUIRE(added_b.has_value());
    REQUIRE(a.join(added_b->delta).has_value());
    REQUIRE(b.join(deleted->delta).has_value());
    CHECK(a == b);
    CHECK(members(a) == std::vector<std::string>{"x", "z"});
}

TEST_CASE("DEL of a bounded counter is refused and changes nothing") {
    const Policy policy = policy_of(ValueType::bounded_counter, 0);
    Value state = counter_at(policy, 4, writer_at(us, 1));
    require_refused(state, Refusal::not_supported,
                    [](Value& s) { return delete_value(s, writer_at(us, 2)); });
    CHECK(counter_value(state) == 4);
}

// ---- TTLs ------------------------------------------------------------------------

TEST_CASE("SET with a deadline writes value and TTL under one stamp, KEEPTTL keeps a live TTL") {
    using meridian::conflict::set_expiring_value;
    using meridian::conflict::Ttl;
    Value state;
    auto written = set_expiring_value(state, writer_at(us, 10), "v", 5000);
    REQUIRE(written.has_value());
    CHECK(state.deadline() == 5000u);
    Value replica;
    REQUIRE(replica.join(written->delta).has_value());
    CHECK(replica == state);

    REQUIRE(set_value(state, writer_at(us, 11), "kept", Ttl::keep).has_value());
    CHECK(state.deadline() == 5000u);
    REQUIRE(set_value(state, writer_at(us, 12), "cleared").has_value());
    CHECK_FALSE(state.deadline());
}

TEST_CASE("DEL clears the TTL of every type, a bounded counter refuses a TTL") {
    using meridian::conflict::set_deadline;
    Value counter = Value::empty(ValueType::counter);
    Policy policy;
    policy.type = ValueType::counter;
    REQUIRE(add_to_counter(counter, policy, writer_at(us, 1), 3).has_value());
    REQUIRE(set_deadline(counter, writer_at(us, 2), 900).has_value());
    auto deleted = delete_value(counter, writer_at(us, 3));
    REQUIRE(deleted.has_value());
    CHECK_FALSE(counter.deadline());
    CHECK(deleted->delta.expiry() != nullptr);  // the replicated delete carries the cleared TTL

    Value bounded = Value::empty(ValueType::bounded_counter);
    require_refused(bounded, Refusal::not_supported,
                    [](Value& s) { return set_deadline(s, writer_at(us, 1), 900); });
}

TEST_CASE("SREM that empties a set drops its TTL, as Redis deletes the emptied key") {
    using meridian::conflict::set_deadline;
    Value set = Value::empty(ValueType::set);
    const std::vector<std::string> both{"a", "b"}, a{"a"}, b{"b"};
    REQUIRE(add_members(set, writer_at(us, 1), both).has_value());
    REQUIRE(set_deadline(set, writer_at(us, 2), 900).has_value());
    REQUIRE(remove_members(set, writer_at(us, 3), a).has_value());
    CHECK(set.deadline() == 900u);
    REQUIRE(remove_members(set, writer_at(us, 4), b).has_value());
    CHECK_FALSE(set.deadline());
}

TEST_CASE("reclaiming an expired key frees its contents, the sweep keeps the TTL, a write clears it") {
    using meridian::conflict::reclaim_expired;
    using meridian::conflict::set_deadline;
    using meridian::conflict::Ttl;
    // A register: "absent" stamped right after the TTL write, whoever reclaims.
    Value reg;
    REQUIRE(set_value(reg, writer_at(us, 1), "payload").has_value());
    REQUIRE(set_deadline(reg, writer_at(us, 2), 100).has_value());
    auto reclaimed = reclaim_expired(reg, writer_at(eu, 500), Ttl::keep);
    REQUIRE(reclaimed.has_value());
    CHECK_FALSE(reg.exists());
    CHECK(reg.as<Register>()->stamp().time == Hlc::from_packed(Hlc::from_parts(2, 0).packed() + 1));
    CHECK(reg.as<Register>()->stamp().writer == us);

    // A set: its observed members; a late add from before the deadline stays expired.
    Value set = Value::empty(ValueType::set);
    Value elsewhere = set;
    const std::vector<std::string> x{"x"}, late{"late"};
    REQUIRE(add_members(set, writer_at(us, 1), x).has_value());
    REQUIRE(set_deadline(set, writer_at(us, 2), 100).has_value());
    auto late_add = add_members(elsewhere, writer_at(eu, 3), late);
    auto swept = reclaim_expired(set, writer_at(us, 200), Ttl::keep);
    REQUIRE(swept.has_value());
    CHECK_FALSE(set.exists());
    REQUIRE(set.join(late_add->delta).has_value());
    CHECK_FALSE(set.live_at(200));
    CHECK(set.deadline() == 100u);

    // Before a write re-creates the key, the TTL goes too.
    auto cleared = reclaim_expired(set, writer_at(us, 300), Ttl::clear);
    REQUIRE(cleared.has_value());
    CHECK_FALSE(set.deadline());
    CHECK_FALSE(set.exists());
}

TEST_CASE(
    "at the heir a bounded write first hands over the retired replicas with a stake in the key, "
    "a refused write hands over nothing, and a retired writer is refused") {
    const Policy policy = policy_of(ValueType::bounded_counter, 0);
    Value state = counter_at(policy, 10, writer_at(us, 1));
    const std::vector<ReplicaId> retired{us};
    Writer heir = writer_at(eu, 2);
    heir.retiring = retired;
    heir.heir_of = retired;
    CHECK(needs_handover(state, policy, heir));

    require_refused(state, Refusal::insufficient_rights,
                    [&](Value& s) { return add_to_counter(s, policy, heir, -11); });
    auto written = add_to_counter(state, policy, heir, -10);
    REQUIRE(written.has_value());
    CHECK(counter_value(state) == 0);
    CHECK(written->delta.as<BoundedCounter>()->handover(us) != nullptr);
    CHECK_FALSE(needs_handover(state, policy, heir));

    // The sweep's write: only a handover, and nothing at all once it is done.
    Value untouched = counter_at(policy, 5, writer_at(us, 3));
    auto handed = hand_over_rights(untouched, policy, heir);
    REQUIRE(handed.has_value());
    CHECK(handed->delta.as<BoundedCounter>()->handover(us) != nullptr);
    CHECK(untouched.as<BoundedCounter>()->rights(eu, {0, us}) == 5);
    auto again = hand_over_rights(untouched, policy, heir);
    REQUIRE(again.has_value());
    CHECK(again->delta == Value::empty(ValueType::bounded_counter));

    Writer old = writer_at(us, 4);
    old.retiring = retired;
    Value fresh = counter_at(policy, 5, writer_at(eu, 5));
    require_refused(fresh, Refusal::retired,
                    [&](Value& s) { return add_to_counter(s, policy, old, 1); });
    require_refused(fresh, Refusal::retired,
                    [&](Value& s) { return transfer_rights(s, policy, old, eu, 1); });
}
