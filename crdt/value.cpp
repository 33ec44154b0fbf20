#include "crdt/value.hpp"

namespace meridian::crdt {

// A key's Value is as wide as its widest inline state, the register (its observed writes sit
// behind a pointer, see LwwRegister's members); the counter keeps its rarely used parts behind
// one too. Memory per key is a benchmark target (docs/BENCHMARKS.md).
static_assert(sizeof(PnCounter) <= sizeof(Register));
static_assert(sizeof(void*) != 8 || sizeof(Value) <= 72, "a key's Value must not get wider");

std::string_view name_of(ValueType type) {
    switch (type) {
        case ValueType::lww: return "lww";
        case ValueType::counter: return "counter";
        case ValueType::set: return "set";
        case ValueType::bounded_counter: return "bounded_counter";
        case ValueType::hash:
            return "hash";
    }
    return "unknown";
}

Value Value::empty(ValueType type) {
    switch (type) {
        case ValueType::lww: return Value(Register{});
        case ValueType::counter: return Value(PnCounter{});
        case ValueType::set: return Value(StringSet{});
        case ValueType::bounded_counter: return Value(BoundedCounter{});
        case ValueType::hash:
            return Value(Hash{});
    }
    return Value{};
}

Expected<JoinReport, Error> Value::join(const Value& other) {
    if (state_.index() != other.state_.index()) return unexpected(Error::type_mismatch);
    if (const Expiry* ttl = other.expiry_.get()) (void)expiry_.emplace().join(*ttl);
    JoinReport report;
    struct Join {
        JoinReport& report;
        void operator()(Register& mine, const Register& theirs) {
            report.overwritten = mine.join(theirs);
        }
        void operator()(PnCounter& mine, const PnCounter& theirs) {
            bool sealed_out = false;
            report.counter_merged = mine.join(theirs, &sealed_out) && mine.entries().size() > 1;
            if (sealed_out) report.counter_sealed_out_by = mine.seal_in_force()->owner;
        }
        void operator()(Boxed<StringSet>& mine, const Boxed<StringSet>& theirs) {
            report.adds_kept = mine->join(*theirs);
        }
        void operator()(BoundedCounter& mine, const BoundedCounter& theirs) { mine.join(theirs); }
        void operator()(Boxed<Hash>& mine, const Boxed<Hash>& theirs) { mine->join(*theirs); }
    };
    std::visit(
        [&](auto& mine) {
            Join{report}(mine, std::get<std::decay_t<decltype(mine)>>(other.state_));
        },
        state_);
    return report;
}

bool Value::exists() const {
    struct Visible {
        bool operator()(const Register& r) const { return r.get() != nullptr; }
        bool operator()(const PnCounter& c) const { return c.has_contributions(); }
        bool operator()(const Boxed<StringSet>& s) const { return !s->empty(); }
        bool operator()(const BoundedCounter& b) const { return b.written(); }
        bool operator()(const Boxed<Hash>& h) const { return !h->empty(); }
    };
    return std::visit(Visible{}, state_);
}

Value Value::expire(ReplicaId writer, Hlc time, std::optional<std::uint64_t> deadline_ms) {
    Value delta = empty(type());
    delta.expiry_.emplace() = expiry_.emplace().assign(writer, time, deadline_ms);
    return delta;
}

std::optional<std::uint64_t> Value::deadline() const {
    const Expiry* ttl = expiry_.get();
    if (!ttl || !ttl->value()) return std::nullopt;
    if (const auto* reg = std::get_if<Register>(&state_);
        reg && reg->written() && ttl->stamp() < reg->stamp())
        return std::nullopt;  // SET without KEEPTTL after the TTL was written
    return *ttl->value();
}

std::optional<Hlc> Value::latest_time() const {
    std::optional<Hlc> latest;
    const auto see = [&](Hlc time) {
        if (!latest || *latest < time) latest = time;
    };
    if (const auto* reg = as<Register>(); reg && reg->written()) see(reg->stamp().time);
    if (const auto* hash = as<Hash>())
        for (const auto& [name, field] : hash->fields())
            for (const Hash::Write& write : field.writes) see(write.time);
    if (const Expiry* ttl = expiry_.get()) see(ttl->stamp().time);
    return latest;
}

std::size_t Value::heap_bytes() const {
    struct Heap {
        std::size_t operator()(const Register& r) const { return r.heap_bytes(); }
        std::size_t operator()(const PnCounter& c) const { return c.heap_bytes(); }
        std::size_t operator()(const Boxed<StringSet>& s) const {
            return malloc_chunk_bytes(sizeof(StringSet)) + s->heap_bytes();
        }
        std::size_t operator()(const BoundedCounter& b) const { return b.heap_bytes(); }
        std::size_t operator()(const Boxed<Hash>& h) const {
            return malloc_chunk_bytes(sizeof(Hash)) + h->heap_bytes();
        }
    };
    return std::visit(Heap{}, state_) + (expiry_.get() ? malloc_chunk_bytes(sizeof(Expiry)) : 0);
}

}  // namespace meridian::crdt
