#include "crdt/small_vector.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "crdt/serialization.hpp"

namespace {

using meridian::crdt::PnCounter;
using meridian::crdt::ReplicaId;
using meridian::crdt::SmallVector;
using Entry = PnCounter::Entry;

Entry entry(std::uint16_t region, std::uint64_t n) {
    return Entry{ReplicaId{region, 0}, n, n / 2};
}

bool same(const SmallVector<Entry>& small, const std::vector<Entry>& model) {
    return std::vector<Entry>(small.begin(), small.end()) == model;
}

}  // namespace

TEST_CASE("small vector: behaves like std::vector under random inserts, copies and moves") {
    std::mt19937_64 random(20261123);
    for (int round = 0; round < 500; ++round) {
        SmallVector<Entry> small;
        std::vector<Entry> model;
        const int steps = static_cast<int>(random() % 12);
        for (int step = 0; step < steps; ++step) {
            const Entry e = entry(static_cast<std::uint16_t>(random() % 100), random() % 1000);
            switch (random() % 4) {
                case 0: {  // insert at a random position
                    const std::size_t at = model.empty() ? 0 : random() % (model.size() + 1);
                    small.insert(small.begin() + at, e);
                    model.insert(model.begin() + static_cast<std::ptrdiff_t>(at), e);
                    break;
                }
                case 1:
                    small.push_back(e);
                    model.push_back(e);
                    break;
                case 2: {  // insert a copy of one of its own elements
                    if (model.empty()) break;
                    const std::size_t from = random() % model.size();
                    small.insert(small.begin(), small[from]);
                    model.insert(model.begin(), Entry(model[from]));
                    break;
                }
                default: {
                    const std::size_t n = random() % 5;
                    small.resize(n);
                    model.resize(n);
                    break;
                }
            }
            REQUIRE(same(small, model));
        }
        SmallVector<Entry> copy = small;
        CHECK(copy == small);
        SmallVector<Entry> moved = std::move(copy);
        CHECK(same(moved, model));
        CHECK(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by design
        copy = moved;
        CHECK(same(copy, model));
        moved = SmallVector<Entry>{};
        CHECK(moved.empty());
    }
}

TEST_CASE("small vector: one element lives inside it, more go to the heap") {
    SmallVector<Entry> v;
    CHECK(v.heap_bytes() == 0);
    v.push_back(entry(1, 5));
    CHECK(v.heap_bytes() == 0);
    v.push_back(entry(2, 6));
    CHECK(v.heap_bytes() >= 2 * sizeof(Entry));
    CHECK(sizeof(v) == sizeof(Entry) + 8);
}

TEST_CASE("small vector: encodes to the same bytes as std::vector") {
    for (std::size_t n : {0, 1, 2, 7}) {
        SmallVector<Entry> small;
        std::vector<Entry> model;
        for (std::size_t i = 0; i < n; ++i) {
            small.push_back(entry(static_cast<std::uint16_t>(i + 1), 300 * i));
            model.push_back(entry(static_cast<std::uint16_t>(i + 1), 300 * i));
        }
        const std::string bytes = meridian::crdt::encode(small);
        CHECK(bytes == meridian::crdt::encode(model));
        auto decoded = meridian::crdt::decode<SmallVector<Entry>>(bytes);
        REQUIRE(decoded.has_value());
        CHECK(*decoded == small);
    }
}
