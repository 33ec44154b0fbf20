#include "node/keyspace.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <random>

#include "crdt/heap_bytes.hpp"

namespace meridian::node {

namespace {

// Hash: the structure of Wang Yi's public-domain wyhash (final4): 64x64->128 multiply-fold
// rounds over 16- or 48-byte blocks, with small keys read as overlapping words. Fast for short
// keys, full-speed on long ones, and good enough mixing that the low 32 bits pick buckets.
__extension__ typedef unsigned __int128 U128;

constexpr std::uint64_t kSecret0 = 0xa0761d6478bd642full;
constexpr std::uint64_t kSecret1 = 0xe7037ed1a0b428dbull;
constexpr std::uint64_t kSecret2 = 0x8ebc6af09c88c6e3ull;
constexpr std::uint64_t kSecret3 = 0x589965cc75374cc3ull;

inline std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
    const U128 r = static_cast<U128>(a) * b;
    return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

// Host byte order: the hash never leaves the process, so only its spread matters.
inline std::uint64_t read64(const unsigned char* p) {
    std::uint64_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline std::uint64_t read32(const unsigned char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::uint64_t hash_bytes(const unsigned char* p, std::size_t len, std::uint64_t seed) {
    std::uint64_t a = 0;
    std::uint64_t b = 0;
    if (len <= 16) {
        if (len >= 4) {
            const std::size_t shift = (len >> 3) << 2;
            a = (read32(p) << 32) | read32(p + shift);
            b = (read32(p + len - 4) << 32) | read32(p + len - 4 - shift);
        } else if (len > 0) {
            a = (std::uint64_t{p[0]} << 16) | (std::uint64_t{p[len >> 1]} << 8) | p[len - 1];
        }
    } else {
        std::size_t left = len;
        if (left > 48) {
            std::uint64_t lane1 = seed;
            std::uint64_t lane2 = seed;
            do {
                seed = mix(read64(p) ^ kSecret1, read64(p + 8) ^ seed);
                lane1 = mix(read64(p + 16) ^ kSecret2, read64(p + 24) ^ lane1);
                lane2 = mix(read64(p + 32) ^ kSecret3, read64(p + 40) ^ lane2);
                p += 48;
                left -= 48;
            } while (left > 48);
            seed ^= lane1 ^ lane2;
        }
        while (left > 16) {
            seed = mix(read64(p) ^ kSecret1, read64(p + 8) ^ seed);
            p += 16;
            left -= 16;
        }
        a = read64(p + left - 16);
        b = read64(p + left - 8);
    }
    const U128 r = static_cast<U128>(a ^ kSecret1) * (b ^ seed);
    return mix(static_cast<std::uint64_t>(r) ^ kSecret0 ^ len,
               static_cast<std::uint64_t>(r >> 64) ^ kSecret1);
}

constexpr std::size_t kMinBuckets = 4;
// The stored hash has 32 bits: more buckets than that would stay empty.
constexpr std::size_t kMaxBuckets = std::size_t{1} << 32;
constexpr std::size_t kShrinkRatio = 8;  // shrink once under 1/8 full

const crdt::Value& empty_value(crdt::ValueType type) {
    static const crdt::Value empties[] = {
        crdt::Value::empty(crdt::ValueType::lww),
        crdt::Value::empty(crdt::ValueType::counter),
        crdt::Value::empty(crdt::ValueType::set),
        crdt::Value::empty(crdt::ValueType::bounded_counter),
        crdt::Value::empty(crdt::ValueType::hash),
    };
    return empties[static_cast<std::size_t>(type)];
}

}  // namespace

std::uint64_t Keyspace::process_hash_seed() {
    static const std::uint64_t seed = [] {
        std::uint64_t s = 0;
        try {
            std::random_device device;
            s = (std::uint64_t{device()} << 32) ^ device();
        } catch (...) {
            // No entropy source: still differ per process (ASLR) rather than fail to start.
            s = reinterpret_cast<std::uintptr_t>(&s);
        }
        return mix(s ^ kSecret0, kSecret1);
    }();
    return seed;
}

Keyspace::Keyspace() : Keyspace(process_hash_seed()) {}

Keyspace::Keyspace(std::uint64_t hash_seed) : seed_(hash_seed) {}

Keyspace::~Keyspace() {
    free_all();
}

Keyspace::Keyspace(Keyspace&& other) noexcept
    : tables_{std::exchange(other.tables_[0], {}), std::exchange(other.tables_[1], {})},
      rehash_index_(std::exchange(other.rehash_index_, 0)),
      visible_(std::exchange(other.visible_, 0)),
      entry_bytes_(std::exchange(other.entry_bytes_, 0)),
      value_heap_bytes_(std::exchange(other.value_heap_bytes_, 0)),
      seed_(other.seed_),
      reclaim_index_(std::exchange(other.reclaim_index_, {})),
      with_ttl_(std::exchange(other.with_ttl_, 0)),
      expiry_owner_(other.expiry_owner_),
      takeover_ms_(other.takeover_ms_) {}

Keyspace& Keyspace::operator=(Keyspace&& other) noexcept {
    if (this != &other) {
        free_all();
        tables_[0] = std::exchange(other.tables_[0], {});
        tables_[1] = std::exchange(other.tables_[1], {});
        rehash_index_ = std::exchange(other.rehash_index_, 0);
        visible_ = std::exchange(other.visible_, 0);
        entry_bytes_ = std::exchange(other.entry_bytes_, 0);
        value_heap_bytes_ = std::exchange(other.value_heap_bytes_, 0);
        seed_ = other.seed_;
        reclaim_index_ = std::exchange(other.reclaim_index_, {});
        with_ttl_ = std::exchange(other.with_ttl_, 0);
        expiry_owner_ = other.expiry_owner_;
        takeover_ms_ = other.takeover_ms_;
    }
    return *this;
}

void Keyspace::free_all() noexcept {
    for (Table& table : tables_) {
        for (std::size_t i = 0; i < table.bucket_count(); ++i) {
            for (Entry* e = table.buckets[i]; e != nullptr;) {
                Entry* next = e->next;
                const std::size_t block = sizeof(Entry) + e->key_size;
                e->~Entry();
                ::operator delete(e, block);
                e = next;
            }
        }
        std::free(table.buckets);
        table = {};
    }
    rehash_index_ = 0;
    visible_ = 0;
    entry_bytes_ = 0;
    value_heap_bytes_ = 0;
    reclaim_index_.clear();
    with_ttl_ = 0;
}

std::uint32_t Keyspace::hash_of(std::string_view key) const {
    return static_cast<std::uint32_t>(
        hash_bytes(reinterpret_cast<const unsigned char*>(key.data()), key.size(), seed_));
}

Keyspace::Slot Keyspace::locate(std::string_view key, std::uint32_t hash) const {
    auto* self = const_cast<Keyspace*>(this);
    for (int t = 0; t < 2; ++t) {
        Table& table = self->tables_[t];
        if (table.buckets == nullptr) break;
        const std::size_t index = hash & table.mask;
        // Buckets of the old table below rehash_index_ are already empty.
        if (t == 1 || !rehashing() || index >= rehash_index_) {
            for (Entry** link = &table.buckets[index]; *link != nullptr; link = &(*link)->next) {
                const Entry& e = **link;
                if (e.hash == hash && e.key_size == key.size() &&
                    std::memcmp(e.key().data(), key.data(), key.size()) == 0) {
                    return Slot{link, &table};
                }
            }
        }
        if (!rehashing()) break;
    }
    return Slot{};
}

crdt::Value* Keyspace::find(std::string_view key) {
    if (size() == 0) return nullptr;
    rehash_buckets(1);
    const Slot slot = locate(key, hash_of(key));
    return slot.link != nullptr ? &(*slot.link)->value : nullptr;
}

const crdt::Value* Keyspace::find(std::string_view key) const {
    if (size() == 0) return nullptr;
    const Slot slot = locate(key, hash_of(key));
    return slot.link != nullptr ? &(*slot.link)->value : nullptr;
}

Keyspace::Acquired Keyspace::acquire(std::string_view key, crdt::ValueType type_if_new) {
    rehash_buckets(1);
    const std::uint32_t hash = hash_of(key);
    const Slot slot = locate(key, hash);
    if (slot.link != nullptr) {
        Entry* entry = *slot.link;
        return Acquired{entry,
                        false,
                        entry->value.exists(),
                        entry->value.heap_bytes(),
                        reclaim_at(entry->value),
                        entry->value.expiry() != nullptr};
    }
    Entry* entry = insert_new(key, hash, type_if_new);
    return Acquired{entry, true, false, entry->value.heap_bytes(), std::nullopt, false};
}

void Keyspace::settle(const Acquired& acquired) noexcept {
    const crdt::Value& value = acquired.entry->value;
    const bool visible = value.exists();
    if (visible && !acquired.was_visible) ++visible_;
    if (!visible && acquired.was_visible) --visible_;
    value_heap_bytes_ = value_heap_bytes_ - acquired.heap_before + value.heap_bytes();
    reindex(acquired.entry, acquired.reclaim_at, reclaim_at(value));
    with_ttl_ = with_ttl_ - (acquired.had_ttl ? 1 : 0) + (value.expiry() ? 1 : 0);
    if (acquired.created && !visible && value == empty_value(value.type())) {
        const std::string_view key = acquired.entry->key();
        unlink_and_free(locate(key, acquired.entry->hash));
    }
}

Keyspace::Entry* Keyspace::insert_new(std::string_view key, std::uint32_t hash,
                                      crdt::ValueType type) {
    // Keys come from RESP bulk strings, capped far below this by max_bulk_bytes.
    assert(key.size() <= std::numeric_limits<std::uint32_t>::max());
    grow_if_needed();
    Table& table = rehashing() ? tables_[1] : tables_[0];
    const std::size_t block = sizeof(Entry) + key.size();
    void* memory = ::operator new(block);
    auto* entry = new (memory)
        Entry{nullptr, hash, static_cast<std::uint32_t>(key.size()), crdt::Value::empty(type)};
    if (!key.empty())
        std::memcpy(static_cast<char*>(memory) + sizeof(Entry), key.data(), key.size());
    Entry*& bucket = table.buckets[hash & table.mask];
    entry->next = bucket;
    bucket = entry;
    ++table.used;
    entry_bytes_ += crdt::malloc_chunk_bytes(block);
    value_heap_bytes_ += entry->value.heap_bytes();
    return entry;
}

Expected<crdt::JoinReport, crdt::Error> Keyspace::join(std::string_view key, const crdt::Value& delta) {
    return modify(key, delta.type(), [&](crdt::Value& value) { return value.join(delta); });
}

bool Keyspace::erase(std::string_view key) {
    if (size() == 0) return false;
    rehash_buckets(1);
    const Slot slot = locate(key, hash_of(key));
    if (slot.link == nullptr) return false;
    if ((*slot.link)->value.exists()) --visible_;
    unlink_and_free(slot);
    shrink_if_needed();
    return true;
}

void Keyspace::unlink_and_free(Slot slot) noexcept {
    Entry* entry = *slot.link;
    *slot.link = entry->next;
    --slot.table->used;
    const std::size_t block = sizeof(Entry) + entry->key_size;
    entry_bytes_ -= crdt::malloc_chunk_bytes(block);
    value_heap_bytes_ -= entry->value.heap_bytes();
    reindex(entry, reclaim_at(entry->value), std::nullopt);
    if (entry->value.expiry()) --with_ttl_;
    entry->~Entry();
    ::operator delete(entry, block);
}

void Keyspace::grow_if_needed() {
    if (rehashing()) return;
    Table& table = tables_[0];
    if (table.buckets == nullptr) {
        start_resize(kMinBuckets);
    } else if (table.used >= table.bucket_count() && table.bucket_count() < kMaxBuckets) {
        start_resize(table.bucket_count() * 2);
    }
}

void Keyspace::shrink_if_needed() {
    if (rehashing()) return;
    const Table& table = tables_[0];
    if (table.bucket_count() <= kMinBuckets || table.used * kShrinkRatio >= table.bucket_count()) {
        return;
    }
    start_resize(std::max(kMinBuckets, std::bit_ceil(table.used)));
}

void Keyspace::start_resize(std::size_t bucket_count) {
    auto* buckets = static_cast<Entry**>(std::calloc(bucket_count, sizeof(Entry*)));
    // Out of memory for a bigger array: keep chaining in the current one and try again later.
    if (buckets == nullptr && tables_[0].buckets != nullptr) return;
    if (buckets == nullptr) throw std::bad_alloc();
    const Table fresh{buckets, bucket_count - 1, 0};
    if (tables_[0].used == 0) {
        std::free(tables_[0].buckets);
        tables_[0] = fresh;
    } else {
        tables_[1] = fresh;
        rehash_index_ = 0;
    }
}

bool Keyspace::rehash(std::size_t max_buckets) {
    rehash_buckets(max_buckets);
    return rehashing();
}

void Keyspace::rehash_buckets(std::size_t max_buckets) {
    if (!rehashing()) return;
    Table& from = tables_[0];
    Table& to = tables_[1];
    std::size_t empty_visits = max_buckets < SIZE_MAX / 10 ? max_buckets * 10 : SIZE_MAX;
    for (; max_buckets != 0 && from.used != 0; --max_buckets) {
        while (from.buckets[rehash_index_] == nullptr) {
            ++rehash_index_;
            if (--empty_visits == 0) return;
        }
        for (Entry* e = from.buckets[rehash_index_]; e != nullptr;) {
            Entry* next = e->next;
            Entry*& bucket = to.buckets[e->hash & to.mask];
            e->next = bucket;
            bucket = e;
            --from.used;
            ++to.used;
            e = next;
        }
        from.buckets[rehash_index_++] = nullptr;
    }
    if (from.used == 0) {
        std::free(from.buckets);
        from = std::exchange(to, {});
        rehash_index_ = 0;
    }
}

std::optional<std::uint64_t> Keyspace::reclaim_at(const crdt::Value& value) const {
    if (!value.expiry() || !value.exists()) return std::nullopt;  // most keys: no TTL
    const auto deadline = value.deadline();
    if (!deadline) return std::nullopt;
    if (value.expiry()->stamp().writer.region == expiry_owner_) return *deadline;
    return *deadline > UINT64_MAX - takeover_ms_ ? UINT64_MAX : *deadline + takeover_ms_;
}

void Keyspace::reindex(const Entry* entry, std::optional<std::uint64_t> before,
                       std::optional<std::uint64_t> after) {
    if (before == after) return;
    if (before) reclaim_index_.erase({*before, entry});
    if (after) reclaim_index_.insert({*after, entry});
}

void Keyspace::set_expiry_owner(crdt::RegionId self, std::uint64_t takeover_ms) {
    expiry_owner_ = self;
    takeover_ms_ = takeover_ms;
    reclaim_index_.clear();
    for (const Table& table : tables_)
        for (std::size_t i = 0; i < table.bucket_count(); ++i)
            for (const Entry* e = table.buckets[i]; e != nullptr; e = e->next)
                reindex(e, std::nullopt, reclaim_at(e->value));
}

std::vector<std::string> Keyspace::due_for_reclaim(std::uint64_t now_ms, std::size_t max) const {
    std::vector<std::string> due;
    // A key is gone once now > deadline (crdt::Value::live_at).
    for (auto it = reclaim_index_.begin();
         it != reclaim_index_.end() && due.size() < max && it->first < now_ms; ++it)
        due.emplace_back(it->second->key());
    return due;
}

std::size_t Keyspace::memory_bytes() const {
    // The expiry index's B-tree nodes: about its entries' size (an estimate).
    const std::size_t index_bytes = reclaim_index_.size() * sizeof(*reclaim_index_.begin());
    return (tables_[0].bucket_count() + tables_[1].bucket_count()) * sizeof(Entry*) + entry_bytes_ +
           value_heap_bytes_ + index_bytes;
}

}  // namespace meridian::node
