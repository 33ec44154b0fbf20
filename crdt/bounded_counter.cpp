#include "crdt/bounded_counter.hpp"

#include <algorithm>
#include <limits>

#include "crdt/entry_table.hpp"

namespace meridian::crdt {

namespace {

using detail::Int128;
using detail::int64_max;
using detail::saturate;

constexpr std::uint64_t uint64_max = std::numeric_limits<std::uint64_t>::max();

using Handover = BoundedCounter::Handover;

template <class Handovers>
auto* find_handover(Handovers& handovers, ReplicaId retired) {
    auto it = std::lower_bound(handovers.begin(), handovers.end(), retired,
                               [](const Handover& h, ReplicaId r) { return h.retired < r; });
    return it != handovers.end() && it->retired == retired ? &*it : nullptr;
}

Int128 sum_value(std::span<const BoundedCounter::Entry> entries,
                 std::span<const Handover> handovers) {
    Int128 sum = 0;
    for (const auto& e : entries)
        if (!find_handover(handovers, e.replica))
            sum += Int128(e.increments) - Int128(e.decrements);
    for (const auto& h : handovers) sum += Int128(h.increments) - Int128(h.decrements);
    return sum;
}

bool contains(BoundedCounter::Retiring retiring, ReplicaId replica) {
    return std::find(retiring.begin(), retiring.end(), replica) != retiring.end();
}

}  // namespace

const std::vector<Handover>& BoundedCounter::handovers() const {
    static const std::vector<Handover> none;
    const auto* list = handovers_.get();
    return list ? *list : none;
}

const Handover* BoundedCounter::handover(ReplicaId retired) const {
    const auto* list = handovers_.get();
    return list ? find_handover(*list, retired) : nullptr;
}

void BoundedCounter::set_handovers(std::vector<Handover> handovers) {
    if (handovers.empty())
        handovers_.reset();
    else
        handovers_.emplace() = std::move(handovers);
}

std::vector<Handover>& BoundedCounter::handover_list() {
    auto* list = handovers_.get();
    return list ? *list : handovers_.emplace();
}

Expected<BoundedCounter, Error> BoundedCounter::increment(ReplicaId replica, std::uint64_t amount) {
    if (handover(replica)) return unexpected(Error::retired);
    if (sum_value(entries_, handovers()) + amount > int64_max) return unexpected(Error::overflow);
    const Entry* current = detail::find_entry(entries_, replica);
    Entry updated = current ? *current : Entry{replica, 0, 0};
    if (updated.increments > uint64_max - amount) return unexpected(Error::overflow);
    updated.increments += amount;
    detail::entry_for(entries_, replica) = updated;
    // Only the increments: the entry's decrements may have spent rights that
    // came by transfer, and this delta does not carry the transfers.
    BoundedCounter delta;
    delta.entries_.push_back(Entry{replica, updated.increments, 0});
    return delta;
}

Expected<BoundedCounter, Error> BoundedCounter::decrement(ReplicaId replica, std::uint64_t amount,
                                                          const Floor& floor, Retiring retiring) {
    if (handover(replica)) return unexpected(Error::retired);
    if (exact_rights(replica, floor, retiring) < amount)
        return unexpected(Error::insufficient_rights);
    const Entry* current = detail::find_entry(entries_, replica);
    Entry updated = current ? *current : Entry{replica, 0, 0};
    if (updated.decrements > uint64_max - amount) return unexpected(Error::overflow);
    updated.decrements += amount;
    detail::entry_for(entries_, replica) = updated;
    return *this;
}

Expected<BoundedCounter, Error> BoundedCounter::transfer(ReplicaId from, ReplicaId to,
                                                         std::uint64_t amount, const Floor& floor,
                                                         Retiring retiring) {
    if (from == to) return unexpected(Error::invalid_argument);
    if (handover(from) || handover(to)) return unexpected(Error::retired);
    if (exact_rights(from, floor, retiring) < amount) return unexpected(Error::insufficient_rights);
    // Rights never exceed the int64 range, but the running total of transfers
    // between two replicas could in principle wrap: check before touching state.
    for (const auto& existing : transfers_)
        if (existing.from == from && existing.to == to && existing.amount > uint64_max - amount)
            return unexpected(Error::overflow);
    transfer_entry(from, to).amount += amount;
    return *this;
}

Expected<BoundedCounter, Error> BoundedCounter::hand_over(ReplicaId retired, ReplicaId heir) {
    if (retired == heir) return unexpected(Error::invalid_argument);
    if (const Handover* done = handover(retired)) {
        if (done->heir != heir) return unexpected(Error::retired);
        return *this;
    }
    if (handover(heir)) return unexpected(Error::retired);
    Handover frozen{retired, heir, 0, 0, {}};
    if (const Entry* e = detail::find_entry(entries_, retired)) {
        frozen.increments = e->increments;
        frozen.decrements = e->decrements;
    }
    for (const auto& t : transfers_)
        if (t.from == retired) frozen.transfers.push_back(t);  // sorted by `to` already
    auto& list = handover_list();
    list.insert(std::lower_bound(list.begin(), list.end(), frozen), std::move(frozen));
    return *this;
}

void BoundedCounter::join(const BoundedCounter& other) {
    detail::join_entries(entries_, other.entries_, [](Entry& into, const Entry& from) {
        into.increments = std::max(into.increments, from.increments);
        into.decrements = std::max(into.decrements, from.decrements);
    });
    for (const auto& t : other.transfers_) {
        Transfer& mine = transfer_entry(t.from, t.to);
        mine.amount = std::max(mine.amount, t.amount);
    }
    for (const auto& h : other.handovers()) {
        auto& list = handover_list();
        auto at =
            std::lower_bound(list.begin(), list.end(), h.retired,
                             [](const Handover& mine, ReplicaId r) { return mine.retired < r; });
        if (at == list.end() || at->retired != h.retired)
            list.insert(at, h);
        else if (*at < h)
            *at = h;
    }
}

std::int64_t BoundedCounter::value() const {
    return saturate(sum_value(entries_, handovers()));
}

std::int64_t BoundedCounter::rights(ReplicaId replica, const Floor& floor,
                                    Retiring retiring) const {
    return saturate(exact_rights(replica, floor, retiring));
}

std::size_t BoundedCounter::heap_bytes() const {
    std::size_t bytes = heap_bytes_of(entries_) + heap_bytes_of(transfers_);
    if (const auto* list = handovers_.get()) {
        bytes += sizeof(*list) + heap_bytes_of(*list);
        for (const auto& h : *list) bytes += heap_bytes_of(h.transfers);
    }
    return bytes;
}

template <class F>
void BoundedCounter::for_each_transfer(F&& f) const {
    for (const auto& t : transfers_)
        if (!handover(t.from)) f(t);
    for (const auto& h : handovers())
        for (const auto& t : h.transfers) f(t);
}

Int128 BoundedCounter::own_rights(ReplicaId replica, const Floor& floor, Retiring retiring) const {
    Int128 rights = replica == floor.holder ? -Int128(floor.min) : 0;
    if (const Handover* h = handover(replica))
        rights += Int128(h->increments) - Int128(h->decrements);
    else if (const Entry* e = detail::find_entry(entries_, replica))
        rights += Int128(e->increments) - Int128(e->decrements);
    for_each_transfer([&](const Transfer& t) {
        // A retiring replica's transfers out may be frozen smaller than this view holds
        // them: until its handover arrives, they are not spent (see above).
        if (t.to == replica && !(contains(retiring, t.from) && !handover(t.from)))
            rights += t.amount;
        if (t.from == replica) rights -= t.amount;
    });
    return rights;
}

Int128 BoundedCounter::inherited_rights(ReplicaId replica, const Floor& floor, Retiring retiring,
                                        std::size_t depth) const {
    Int128 rights = own_rights(replica, floor, retiring);
    if (depth == 0) return rights;
    for (const auto& h : handovers())
        if (h.heir == replica) rights += inherited_rights(h.retired, floor, retiring, depth - 1);
    return rights;
}

Int128 BoundedCounter::exact_rights(ReplicaId replica, const Floor& floor,
                                    Retiring retiring) const {
    if (handover(replica)) return 0;  // they are its heir's
    return inherited_rights(replica, floor, retiring, handovers().size());
}

BoundedCounter::Transfer& BoundedCounter::transfer_entry(ReplicaId from, ReplicaId to) {
    auto key = [](const Transfer& t) { return std::pair(t.from, t.to); };
    auto it = std::lower_bound(transfers_.begin(), transfers_.end(), std::pair(from, to),
                               [&](const Transfer& t, const auto& k) { return key(t) < k; });
    if (it == transfers_.end() || key(*it) != std::pair(from, to))
        it = transfers_.insert(it, Transfer{from, to, 0});
    return *it;
}

}  // namespace meridian::crdt
