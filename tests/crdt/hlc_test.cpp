#include "crdt/hlc.hpp"

#include <catch2/catch.hpp>
#include <cstdint>

#include "property.hpp"
#include "show.hpp"

namespace {

using meridian::crdt::Hlc;
using meridian::test::check_property;

constexpr std::uint16_t max_logical = 0xFFFF;

Hlc at(std::uint64_t ms, std::uint16_t logical) {
    return Hlc::from_parts(ms, logical);
}

// Physical times near 0, near the 48-bit limit and anywhere between; the
// last millisecond is left out so that every timestamp has a successor.
rc::Gen<std::uint64_t> any_ms() {
    return rc::gen::weightedOneOf<std::uint64_t>({
        {2, rc::gen::inRange<std::uint64_t>(0, 8)},
        {1, rc::gen::inRange<std::uint64_t>(Hlc::max_physical_ms - 4, Hlc::max_physical_ms)},
        {1, rc::gen::inRange<std::uint64_t>(0, Hlc::max_physical_ms)},
    });
}

// Logical counters at and near both ends, so that carries happen.
rc::Gen<std::uint16_t> any_logical() {
    return rc::gen::weightedOneOf<std::uint16_t>({
        {2, rc::gen::inRange<std::uint16_t>(0, 3)},
        {2, rc::gen::element<std::uint16_t>(max_logical - 1, max_logical)},
        {1, rc::gen::arbitrary<std::uint16_t>()},
    });
}

rc::Gen<Hlc> any_hlc() {
    return rc::gen::apply([](std::uint64_t ms, std::uint16_t l) { return at(ms, l); }, any_ms(),
                          any_logical());
}

Hlc successor(Hlc h) {
    return Hlc::from_packed(h.packed() + 1);
}

}  // namespace

TEST_CASE("hlc: a tick takes the wall clock when it is ahead of the last stamp") {
    CHECK(Hlc::tick(at(5, 3), 10) == at(10, 0));
}

TEST_CASE("hlc: a tick counts logically while the wall clock is not ahead") {
    CHECK(Hlc::tick(at(10, 3), 10) == at(10, 4));
    CHECK(Hlc::tick(at(10, 3), 5) == at(10, 4));
}

TEST_CASE("hlc: an exhausted logical counter carries into the physical part") {
    CHECK(Hlc::tick(at(10, max_logical), 5) == at(11, 0));
    CHECK(Hlc::tick(at(10, max_logical), 10) == at(11, 0));
    CHECK(Hlc::receive(at(1, 0), at(7, max_logical), 2) == at(8, 0));
    CHECK(at(1, max_logical) < at(2, 0));
}

TEST_CASE("hlc: receive orders after the remote stamp, the last stamp and the wall clock") {
    CHECK(Hlc::receive(at(10, 2), at(12, 7), 5) == at(12, 8));   // remote ahead
    CHECK(Hlc::receive(at(12, 9), at(12, 7), 5) == at(12, 10));  // local ahead
    CHECK(Hlc::receive(at(12, 7), at(12, 7), 5) == at(12, 8));   // equal
    CHECK(Hlc::receive(at(3, 0), at(4, 0), 20) == at(20, 0));    // wall clock ahead
}

TEST_CASE("hlc: a timestamp splits back into its physical and logical parts") {
    check_property([] {
        const auto ms = *any_ms();
        const auto logical = *any_logical();
        const Hlc h = at(ms, logical);
        RC_ASSERT(h.physical_ms() == ms);
        RC_ASSERT(h.logical() == logical);
        RC_ASSERT(Hlc::from_packed(h.packed()) == h);
    });
}

TEST_CASE("hlc: a tick is the least stamp after the last one and not behind the wall clock") {
    check_property([] {
        const Hlc last = *any_hlc();
        const auto now = *any_ms();
        const Hlc t = Hlc::tick(last, now);
        RC_ASSERT(t > last);
        RC_ASSERT(t >= at(now, 0));
        RC_ASSERT((t == successor(last) || t == at(now, 0)));
    });
}

TEST_CASE("hlc: receive gives the least stamp after both stamps and not behind the wall clock") {
    check_property([] {
        const Hlc last = *any_hlc();
        const Hlc remote = *any_hlc();
        const auto now = *any_ms();
        const Hlc r = Hlc::receive(last, remote, now);
        RC_ASSERT(r > last);
        RC_ASSERT(r > remote);
        RC_ASSERT(r >= at(now, 0));
        RC_ASSERT((r == successor(last) || r == successor(remote) || r == at(now, 0)));
    });
}
