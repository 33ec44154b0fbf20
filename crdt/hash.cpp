#include "crdt/hash.hpp"

#include <algorithm>
#include <charconv>
#include <tuple>

#include "crdt/heap_bytes.hpp"
#include "crdt/wide_int.hpp"

namespace meridian::crdt {

namespace {

// The write whose text a field shows: highest (HLC, writer), the dot breaking a tie.
const Hash::Write* winner(const std::vector<Hash::Write>& writes) {
    const auto order = [](const Hash::Write& w) {
        return std::tie(w.time, w.dot.replica, w.dot.seq);
    };
    const Hash::Write* top = nullptr;
    for (const Hash::Write& w : writes)
        if (!top || order(*top) < order(w)) top = &w;
    return top;
}

bool is_bottom(const Hash::Field& field) {
    return field.writes.empty() && field.counter == PnCounter{};
}

}  // namespace

std::optional<std::int64_t> canonical_int(std::string_view text) {
    std::int64_t n = 0;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
    if (text.size() > 1 && (text[0] == '0' || (text[0] == '-' && text[1] == '0')))
        return std::nullopt;
    return n;
}

Hash& Hash::operator=(const Hash& other) {
    if (this != &other) {
        fields_ = other.fields_;
        context_ = other.context_;
        reindex();
    }
    return *this;
}

Hash Hash::set(ReplicaId writer, Hlc time, const std::string& field, std::string value) {
    Hash delta;
    auto it = fields_.find(field);
    if (it == fields_.end()) it = fields_.try_emplace(field).first;
    remove_observed(it, delta);
    const Dot dot = context_.make_dot(writer);
    Write write{dot, time, std::move(value)};
    delta.fields_[it->first].writes.push_back(write);
    it->second.writes.push_back(std::move(write));
    by_dot_.emplace(dot, &it->first);
    delta.context_.insert(dot);
    delta.context_.compact();
    delta.reindex();
    return delta;
}

Expected<Hash, Error> Hash::increment(ReplicaId writer, const std::string& field,
                                      std::int64_t amount) {
    auto it = fields_.find(field);
    if (it == fields_.end()) it = fields_.try_emplace(field).first;
    auto counted = it->second.counter.add(writer, amount);
    if (!counted) {
        erase_if_bottom(it);
        return unexpected(counted.error());
    }
    Hash delta;
    delta.fields_[it->first].counter = std::move(*counted);
    return delta;
}

Hash Hash::remove(const std::string& field) {
    Hash delta;
    if (auto it = fields_.find(field); it != fields_.end()) {
        remove_observed(it, delta);
        erase_if_bottom(it);
    }
    delta.context_.compact();
    return delta;
}

Hash Hash::clear() {
    Hash delta;
    for (auto it = fields_.begin(); it != fields_.end(); ++it) remove_observed(it, delta);
    absl::erase_if(fields_, [](const auto& entry) { return is_bottom(entry.second); });
    delta.context_.compact();
    return delta;
}

void Hash::join(const Hash& other) {
    // Drop our writes that the other side has seen but no longer holds, scanning whichever of
    // the two is smaller: a delta's context is tiny next to a large hash.
    std::vector<Dot> removed;
    const auto consider = [&](const Dot& dot) {
        if (other.context_.contains(dot) && !other.by_dot_.contains(dot)) removed.push_back(dot);
    };
    if (other.context_.dot_count() < by_dot_.size()) {
        other.context_.for_each_dot([&](const Dot& dot) {
            if (by_dot_.contains(dot)) consider(dot);
        });
    } else {
        for (const auto& [dot, name] : by_dot_) consider(dot);
    }
    for (const Dot& dot : removed) drop_dot(dot);

    // Take the writes we have never seen, and every counter.
    for (const auto& [name, theirs] : other.fields_) {
        auto it = fields_.try_emplace(name).first;
        Field& mine = it->second;
        for (const Write& write : theirs.writes) {
            if (context_.contains(write.dot)) continue;
            mine.writes.insert(
                std::upper_bound(mine.writes.begin(), mine.writes.end(), write,
                                 [](const Write& a, const Write& b) { return a.dot < b.dot; }),
                write);
            by_dot_.emplace(write.dot, &it->first);
        }
        mine.counter.join(theirs.counter);
        erase_if_bottom(it);
    }
    context_.join(other.context_);
}

std::optional<std::string> Hash::value_of(const std::string& field) const {
    auto it = fields_.find(field);
    return it == fields_.end() ? std::nullopt : shown(it->second);
}

bool Hash::contains(const std::string& field) const {
    auto it = fields_.find(field);
    return it != fields_.end() && present(it->second);
}

std::size_t Hash::size() const {
    return static_cast<std::size_t>(std::count_if(
        fields_.begin(), fields_.end(), [](const auto& entry) { return present(entry.second); }));
}

bool Hash::empty() const {
    return std::none_of(fields_.begin(), fields_.end(),
                        [](const auto& entry) { return present(entry.second); });
}

std::vector<std::pair<std::string, std::string>> Hash::items() const {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, field] : fields_)
        if (auto value = shown(field)) out.emplace_back(name, std::move(*value));
    std::sort(out.begin(), out.end());
    return out;
}

std::size_t Hash::heap_bytes() const {
    // From the container sizes alone, so that it costs O(1) as OrSet's does: field names' and
    // values' own heap, extra writes of a field and counters are left out.
    using Node = Fields::value_type;
    constexpr std::size_t kGroup = 16;
    const auto table = [](std::size_t capacity, std::size_t slot) {
        return capacity == 0 ? 0 : malloc_chunk_bytes(capacity * (1 + slot) + kGroup);
    };
    return table(fields_.capacity(), sizeof(void*)) +
           fields_.size() * (malloc_chunk_bytes(sizeof(Node)) + malloc_chunk_bytes(sizeof(Write))) +
           table(by_dot_.capacity(), sizeof(std::pair<const Dot, const std::string*>)) +
           context_.heap_bytes();
}

bool Hash::present(const Field& field) {
    return !field.writes.empty() || field.counter.has_contributions();
}

std::optional<std::string> Hash::shown(const Field& field) {
    const Write* top = winner(field.writes);
    if (!field.counter.has_contributions()) return top ? std::optional(top->value) : std::nullopt;
    std::int64_t base = 0;
    if (top) {
        auto number = canonical_int(top->value);
        if (!number) return top->value;  // increments concurrent with a non-number HSET hide
        base = *number;
    }
    return std::to_string(detail::saturate(detail::Int128{base} + field.counter.exact_value()));
}

void Hash::remove_observed(Fields::iterator it, Hash& delta) {
    Field& field = it->second;
    for (const Write& write : field.writes) {
        delta.context_.insert(write.dot);
        by_dot_.erase(write.dot);
    }
    field.writes.clear();
    if (!(field.counter == PnCounter{})) delta.fields_[it->first].counter = field.counter.reset();
}

void Hash::drop_dot(const Dot& dot) {
    auto found = by_dot_.find(dot);
    if (found == by_dot_.end()) return;
    auto it = fields_.find(*found->second);
    by_dot_.erase(found);
    std::erase_if(it->second.writes, [&](const Write& w) { return w.dot == dot; });
    erase_if_bottom(it);
}

void Hash::erase_if_bottom(Fields::iterator it) {
    if (is_bottom(it->second)) fields_.erase(it);
}

void Hash::reindex() {
    by_dot_.clear();
    for (const auto& [name, field] : fields_)
        for (const Write& write : field.writes) by_dot_.emplace(write.dot, &name);
}

}  // namespace meridian::crdt
