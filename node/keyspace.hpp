// Keyspace: every key of the node and its CRDT state, with the counts DBSIZE and INFO report and
// a stateless cursor for SCAN, snapshots and full-state sync. Owned by the node's event-loop
// thread: no locks; nothing here may be called from another thread.
#pragma once

#include <absl/container/btree_set.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "crdt/error.hpp"
#include "crdt/expected.hpp"
#include "crdt/value.hpp"

namespace meridian::node {

// Design (Redis's dict, made leaner per key):
// - Entries. One allocation per key: {next, 32-bit hash, key length, Value} and the key bytes
//   right after it (88 bytes + key on x86-64, plus the allocator's own 8 and rounding to 16).
//   Entries never move, so a Value* stays valid until its key is erased.
// - Tables. Chained, power-of-two bucket arrays. A table grows (x2) once it holds as many keys
//   as buckets and shrinks (to the next power of two >= its keys) once under 1/8 full. A resize
//   allocates the second array with calloc (fresh zero pages: no memset stall on big tables) and
//   moves the old buckets over incrementally: every non-const call moves one bucket (skipping at
//   most 10 empty ones) and rehash() lets the event loop move more when idle. While both exist,
//   lookups check both and inserts go to the new one.
// - Hash. A wyhash-style 64-bit hash seeded per process from std::random_device, so clients
//   cannot aim keys at one bucket. Its low 32 bits pick the bucket and are kept in the entry:
//   resizes never rehash a key and a lookup compares key bytes only when the hashes agree.
// - Cursor. A cursor is a bucket index with its bits reversed, incremented from the top bit down
//   (Redis dictScan). Doubling or halving a table splits or merges buckets whose indexes share
//   their low bits, which the reversed order has already visited together, so:
//   every key present for a whole iteration is visited at least once, whatever resizes happen
//   between calls (a key may then be visited twice); keys added or erased during the iteration
//   may or may not be; an iteration over an unchanging keyspace (also one caught mid-resize)
//   visits every key exactly once.
// - Expiry. Keys that exist and have a deadline (crdt::Value::deadline) are also kept in an
//   ordered index by when this region should reclaim them, kept right by modify() and join(),
//   so the active sweep finds what is due in O(log n) without visiting other keys.
class Keyspace {
public:
    // Hashes with the process's random seed.
    Keyspace();
    // Hashes with `hash_seed`: reproducible bucket layouts for tests.
    explicit Keyspace(std::uint64_t hash_seed);
    ~Keyspace();
    Keyspace(const Keyspace&) = delete;
    Keyspace& operator=(const Keyspace&) = delete;
    Keyspace(Keyspace&& other) noexcept;
    Keyspace& operator=(Keyspace&& other) noexcept;

    // Lookup; nullptr when absent. Change the value only through modify() or join(): they keep
    // visible_size() right. The non-const overload also advances a running resize.
    crdt::Value* find(std::string_view key);
    const crdt::Value* find(std::string_view key) const;

    // Runs f(crdt::Value&) on key's state, created as the empty value of `type_if_new` when
    // absent, keeps visible_size() right and returns f's result. A key this call created and f
    // left empty is removed again, so reads and no-op writes on absent keys store nothing.
    // f must not use the keyspace, and returns a value (not a reference into the entry).
    template <class F>
    decltype(auto) modify(std::string_view key, crdt::ValueType type_if_new, F&& f);

    // Joins `delta` into key's state (created empty of delta.type() first); refuses with
    // crdt::Error::type_mismatch when the key holds another type, changing nothing. Returns what
    // the join decided that conflict accounting counts.
    Expected<crdt::JoinReport, crdt::Error> join(std::string_view key, const crdt::Value& delta);

    // Physically removes a key (tombstone collection); returns whether it was there.
    bool erase(std::string_view key);

    std::size_t size() const { return tables_[0].used + tables_[1].used; }  // visible or not
    std::size_t visible_size() const { return visible_; }  // Value::exists(): DBSIZE

    // Visits buckets from `cursor` on, passing their keys, tombstones included, to
    // f(std::string_view key, const crdt::Value&), until at least `count` keys were passed, the
    // iteration is complete, or 10 * count cursor steps were taken (so a sparse table does not
    // make one call long). Returns the cursor to continue from: 0 once the iteration is complete
    // (start with 0). Any cursor value is safe. f must not change the keyspace; changes between
    // calls are fine (see Design).
    template <class F>
    std::uint64_t scan(std::uint64_t cursor, std::size_t count, F&& f) const;

    // Moves up to `max_buckets` buckets of a running resize; returns whether one still runs.
    // For the event loop's idle turns: a keyspace nobody writes to finishes its resize too.
    bool rehash(std::size_t max_buckets);
    bool rehashing() const { return tables_[1].buckets != nullptr; }

    // Heap bytes of the bucket arrays, the entry blocks and what the values hold (strings past
    // SSO, counter entries, the boxed set: crdt::Value::heap_bytes), for INFO memory.
    std::size_t memory_bytes() const;

    // Who reclaims an expired key: a key is due at its deadline when region `self` wrote its
    // TTL, and `takeover_ms` later when another region did (that region reclaims its own keys;
    // this one steps in only if it stays silent). Re-indexes the keys already present.
    void set_expiry_owner(crdt::RegionId self, std::uint64_t takeover_ms);
    // Up to `max` keys due for reclaiming at `now_ms` (HLC physical ms), the earliest first.
    std::vector<std::string> due_for_reclaim(std::uint64_t now_ms, std::size_t max) const;
    // Keys that exist and have a deadline (INFO keyspace's "expires").
    std::size_t expiring_size() const { return reclaim_index_.size(); }
    // Keys whose state holds a TTL register at all (live, expired, or "never"): while there are
    // none, a write need not look for an expired key to reclaim.
    std::size_t with_ttl_size() const { return with_ttl_; }

    // The seed Keyspace() uses: random, drawn once per process.
    static std::uint64_t process_hash_seed();

private:
    struct Entry {
        Entry* next;
        std::uint32_t hash;
        std::uint32_t key_size;
        crdt::Value value;

        std::string_view key() const {
            return {reinterpret_cast<const char*>(this) + sizeof(Entry), key_size};
        }
    };

    struct Table {
        Entry** buckets = nullptr;  // calloc'ed; nullptr when the table has no buckets
        std::size_t mask = 0;       // bucket count - 1
        std::size_t used = 0;       // entries
        std::size_t bucket_count() const { return buckets ? mask + 1 : 0; }
    };

    // Where a key's entry hangs: *link is the entry, *table counts it. link == nullptr: absent.
    struct Slot {
        Entry** link = nullptr;
        Table* table = nullptr;
    };

    // modify()'s bookkeeping, done in a destructor so it also happens when f throws.
    struct Acquired {
        Entry* entry;
        bool created;
        bool was_visible;
        std::size_t heap_before;                  // entry->value.heap_bytes() before f ran
        std::optional<std::uint64_t> reclaim_at;  // reclaim_at(entry->value) before f ran
        bool had_ttl;                             // entry->value.expiry() before f ran
    };
    class Settle {
    public:
        Settle(Keyspace& keyspace, Acquired acquired) : keyspace_(keyspace), acquired_(acquired) {}
        Settle(const Settle&) = delete;
        Settle& operator=(const Settle&) = delete;
        ~Settle() { keyspace_.settle(acquired_); }

    private:
        Keyspace& keyspace_;
        Acquired acquired_;
    };

    // When this region should reclaim the value's key (see set_expiry_owner); nullopt when it
    // does not exist or has no deadline.
    std::optional<std::uint64_t> reclaim_at(const crdt::Value& value) const;
    void reindex(const Entry* entry, std::optional<std::uint64_t> before,
                 std::optional<std::uint64_t> after);

    std::uint32_t hash_of(std::string_view key) const;
    Slot locate(std::string_view key, std::uint32_t hash) const;
    Acquired acquire(std::string_view key, crdt::ValueType type_if_new);
    void settle(const Acquired& acquired) noexcept;
    void unlink_and_free(Slot slot) noexcept;
    Entry* insert_new(std::string_view key, std::uint32_t hash, crdt::ValueType type);
    void grow_if_needed();
    void shrink_if_needed();
    void start_resize(std::size_t bucket_count);
    void rehash_buckets(std::size_t max_buckets);
    void free_all() noexcept;

    // Emits the keys of the bucket(s) at `cursor` and returns the next cursor (Redis dictScan).
    template <class Emit>
    std::uint64_t scan_step(std::uint64_t cursor, Emit&& emit) const;
    static constexpr std::uint64_t reverse_bits(std::uint64_t v);
    // The cursor after `cursor` over a table with mask `mask`: reversed increment.
    static constexpr std::uint64_t next_cursor(std::uint64_t cursor, std::uint64_t mask) {
        return reverse_bits(reverse_bits(cursor | ~mask) + 1);
    }

    Table tables_[2];               // [1] only while resizing: [0] is being moved into it
    std::size_t rehash_index_ = 0;  // buckets of tables_[0] below this are moved
    std::size_t visible_ = 0;
    std::size_t entry_bytes_ = 0;
    std::size_t value_heap_bytes_ = 0;  // sum of the values' heap_bytes()
    std::uint64_t seed_;
    absl::btree_set<std::pair<std::uint64_t, const Entry*>> reclaim_index_;  // (reclaim_at, entry)
    std::size_t with_ttl_ = 0;
    crdt::RegionId expiry_owner_ = 0;
    std::uint64_t takeover_ms_ = 0;
};

template <class F>
decltype(auto) Keyspace::modify(std::string_view key, crdt::ValueType type_if_new, F&& f) {
    using Result = std::invoke_result_t<F&&, crdt::Value&>;
    static_assert(!std::is_reference_v<Result>,
                  "modify(): return a value; an entry f leaves empty may be freed afterwards");
    const Acquired acquired = acquire(key, type_if_new);
    const Settle guard(*this, acquired);
    return std::invoke(std::forward<F>(f), acquired.entry->value);
}

template <class F>
std::uint64_t Keyspace::scan(std::uint64_t cursor, std::size_t count, F&& f) const {
    if (size() == 0) return 0;
    if (count == 0) count = 1;
    std::size_t passed = 0;
    std::size_t buckets_left = count < SIZE_MAX / 10 ? count * 10 : SIZE_MAX;
    const auto emit = [&](const Entry& entry) {
        f(entry.key(), std::as_const(entry.value));
        ++passed;
    };
    // The reversed order makes every bucket a cache miss, and its chain another. While no resize
    // runs (f cannot start one), prefetch the bucket slots kSlotsAhead steps ahead and the chain
    // heads of those kEntriesAhead steps ahead, whose slots have arrived by then.
    constexpr int kSlotsAhead = 16;
    constexpr int kEntriesAhead = 8;
    const Table& table = tables_[0];
    const bool prefetch = !rehashing();
    std::uint64_t slot_ahead = cursor;
    std::uint64_t entry_ahead = cursor;
    for (int i = 0; prefetch && i < kSlotsAhead; ++i) {
        slot_ahead = next_cursor(slot_ahead, table.mask);
        if (i + 1 == kEntriesAhead) entry_ahead = slot_ahead;
    }
    do {
        if (prefetch) {
            __builtin_prefetch(&table.buckets[slot_ahead & table.mask]);
            if (const Entry* head = table.buckets[entry_ahead & table.mask]) {
                __builtin_prefetch(head);
                __builtin_prefetch(reinterpret_cast<const char*>(head) + sizeof(Entry));  // key
            }
            slot_ahead = next_cursor(slot_ahead, table.mask);
            entry_ahead = next_cursor(entry_ahead, table.mask);
        }
        cursor = scan_step(cursor, emit);
    } while (cursor != 0 && passed < count && --buckets_left != 0);
    return cursor;
}

template <class Emit>
std::uint64_t Keyspace::scan_step(std::uint64_t cursor, Emit&& emit) const {
    const auto emit_bucket = [&](const Table& table, std::uint64_t index) {
        for (const Entry* e = table.buckets[index]; e != nullptr; e = e->next) emit(*e);
    };
    if (!rehashing()) {
        const Table& t = tables_[0];
        emit_bucket(t, cursor & t.mask);
        return next_cursor(cursor, t.mask);
    }
    // Both tables: the smaller table's bucket, then every bucket of the larger one that it
    // splits into (same low bits), so one cursor step covers the same keys in either table.
    const bool first_smaller = tables_[0].mask < tables_[1].mask;
    const Table& small = tables_[first_smaller ? 0 : 1];
    const Table& large = tables_[first_smaller ? 1 : 0];
    emit_bucket(small, cursor & small.mask);
    do {
        emit_bucket(large, cursor & large.mask);
        cursor = next_cursor(cursor, large.mask);
    } while ((cursor & (small.mask ^ large.mask)) != 0);
    return cursor;
}

constexpr std::uint64_t Keyspace::reverse_bits(std::uint64_t v) {
    v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
    v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0Full) | ((v & 0x0F0F0F0F0F0F0F0Full) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFull) | ((v & 0x00FF00FF00FF00FFull) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFull) | ((v & 0x0000FFFF0000FFFFull) << 16);
    return (v >> 32) | (v << 32);
}

}  // namespace meridian::node
