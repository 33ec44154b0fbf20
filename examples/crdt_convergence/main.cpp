// crdt_convergence: two regions, us-east and eu-west, change the same four
// keys at the same time without talking to each other, one key per CRDT type.
// Then they exchange the deltas their changes produced, encoded as they would
// travel between regions, and end with identical state.
//
//   usage: crdt_convergence
//
// Wall-clock times are passed in explicitly, so every run prints the same.

#include <cstdint>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crdt/serialization.hpp"
#include "crdt/value.hpp"

namespace {

using namespace meridian::crdt;

// What travels between regions: a key and a delta of its value.
struct DeltaMessage {
    std::string key;
    Value delta;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(key, delta);
    }
};

constexpr ReplicaId us_east{1, 0};
constexpr ReplicaId eu_west{2, 0};
// Nobody may take more seats than exist; the floor's initial rights (none
// for a floor of 0) would belong to us-east.
constexpr BoundedCounter::Floor no_overbooking{0, us_east};

std::string region_name(ReplicaId id) {
    return id == us_east ? "us-east" : "eu-west";
}

// One region's copy of the keys. Each change is applied locally at once and
// its delta queued for the other region.
class Region {
public:
    explicit Region(ReplicaId id) : id_(id) {}

    void set(const std::string& key, const std::string& text, std::uint64_t now_ms) {
        clock_ = Hlc::tick(clock_, now_ms);
        queue(key, value<Register>(key).assign(id_, clock_, text));
    }
    void incr_by(const std::string& key, std::int64_t amount) {
        if (auto delta = value<PnCounter>(key).add(id_, amount)) queue(key, std::move(*delta));
    }
    void add_member(const std::string& key, const std::string& member) {
        queue(key, value<StringSet>(key).add(id_, member));
    }
    void remove_member(const std::string& key, const std::string& member) {
        queue(key, value<StringSet>(key).remove(member));
    }
    void add_seats(const std::string& key, std::uint64_t n) {
        if (auto delta = value<BoundedCounter>(key).increment(id_, n))
            queue(key, std::move(*delta));
    }
    void give_rights(const std::string& key, ReplicaId to, std::uint64_t n) {
        auto delta = value<BoundedCounter>(key).transfer(id_, to, n, no_overbooking);
        if (delta) queue(key, std::move(*delta));
    }
    // Takes `n` seats if this region holds the rights for them.
    void take_seats(const std::string& key, std::uint64_t n) {
        auto delta = value<BoundedCounter>(key).decrement(id_, n, no_overbooking);
        std::cout << "  " << region_name(id_) << " takes " << n << " seats: "
                  << (delta ? "ok" : "refused, " + std::string(describe(delta.error()))) << "\n";
        if (delta) queue(key, std::move(*delta));
    }

    // The queued deltas, encoded, and the queue emptied.
    std::vector<std::string> ship() { return std::exchange(outbox_, {}); }

    // Joins a delta from another region; false if it does not decode or join.
    bool receive(std::string_view bytes) {
        auto message = decode<DeltaMessage>(bytes);
        if (!message) return false;
        if (auto* reg = message->delta.as<Register>(); reg && reg->written())
            clock_ = Hlc::receive(clock_, reg->stamp().time, clock_.physical_ms());
        auto [it, fresh] = keys_.try_emplace(message->key, Value::empty(message->delta.type()));
        return it->second.join(message->delta).has_value();
    }

    void print() const {
        std::cout << "  " << region_name(id_) << " (region " << id_.region << ") sees:\n";
        for (const auto& [key, v] : keys_)
            std::cout << "    " << std::left << std::setw(10) << key << show(v) << "\n";
    }

    ReplicaId id() const { return id_; }
    const std::map<std::string, Value>& keys() const { return keys_; }

private:
    // The key's state, created empty on first use (each key keeps one type).
    template <class T>
    T& value(const std::string& key) {
        auto [it, fresh] = keys_.try_emplace(key, Value(T{}));
        return *it->second.as<T>();
    }

    template <class T>
    void queue(const std::string& key, T delta) {
        outbox_.push_back(encode(DeltaMessage{key, Value(std::move(delta))}));
    }

    static std::string show(const Value& v) {
        if (const auto* r = v.as<Register>())
            return "lww        " +
                   (r->value() ? '"' + *r->value() + '"' : std::string("(deleted)"));
        if (const auto* c = v.as<PnCounter>()) return "counter    " + std::to_string(c->value());
        if (const auto* s = v.as<StringSet>()) {
            std::string out = "set        {";
            for (const auto& m : s->value()) out += (out.back() == '{' ? "" : ", ") + m;
            return out + "}";
        }
        const auto* b = v.as<BoundedCounter>();
        return "bounded    " + std::to_string(b->value()) + " (min 0; rights: us-east " +
               std::to_string(b->rights(us_east, no_overbooking)) + ", eu-west " +
               std::to_string(b->rights(eu_west, no_overbooking)) + ")";
    }

    ReplicaId id_;
    Hlc clock_;
    std::map<std::string, Value> keys_;
    std::vector<std::string> outbox_;
};

// Ships everything `from` has queued to `to`; false if any delta was refused.
bool exchange(Region& from, Region& to) {
    std::size_t bytes = 0;
    bool ok = true;
    const auto messages = from.ship();
    for (const auto& m : messages) {
        bytes += m.size();
        ok = to.receive(m) && ok;
    }
    std::cout << "  " << region_name(from.id()) << " -> " << region_name(to.id()) << ": "
              << messages.size() << " deltas, " << bytes << " bytes\n";
    return ok;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) {
        const bool help =
            std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h";
        (help ? std::cout : std::cerr)
            << "usage: crdt_convergence\n\n"
               "Two regions change one key of each CRDT type at the same time, exchange their\n"
               "deltas and converge. Takes no arguments.\n";
        return help ? 0 : 2;
    }

    Region us(us_east), eu(eu_west);

    std::cout << "1. us-east creates the keys; eu-west receives them.\n";
    us.set("greeting", "hello", 1'000);
    us.add_member("tags", "red");
    us.add_seats("seats", 10);
    us.give_rights("seats", eu_west, 4);  // eu-west may now sell 4 seats on its own
    bool ok = exchange(us, eu);
    us.print();
    eu.print();

    std::cout << "\n2. Both regions change every key at the same time, without talking.\n";
    us.set("greeting", "hello from us-east", 2'000);
    eu.set("greeting", "hallo aus eu-west", 2'250);  // the later write will win
    us.incr_by("visits", 5);
    eu.incr_by("visits", 10);
    eu.incr_by("visits", -2);
    us.remove_member("tags", "red");
    us.add_member("tags", "blue");
    eu.add_member("tags", "red");  // concurrent with us-east's remove: the add wins
    eu.add_member("tags", "green");
    us.take_seats("seats", 6);
    eu.take_seats("seats", 5);  // refused: eu-west holds only 4 rights
    eu.take_seats("seats", 4);
    us.print();
    eu.print();

    std::cout << "\n3. They exchange deltas (encoded, as they would travel).\n";
    ok = exchange(us, eu) && ok;
    ok = exchange(eu, us) && ok;
    us.print();
    eu.print();

    if (!ok || us.keys() != eu.keys()) {
        std::cout << "\nThe regions DIVERGED.\n";
        return 1;
    }
    std::cout << "\nBoth regions hold identical state: the later greeting won, the counter\n"
                 "summed every change, the concurrent re-add of red survived the remove, and\n"
                 "no more seats were taken than exist.\n";
    return 0;
}
