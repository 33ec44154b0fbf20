// Printing of CRDT states for test failures: RapidCheck (counterexamples,
// RC_ASSERT expansions) and Catch2 (REQUIRE expansions) find these by ADL.
// Test code only; the library itself has no printing on purpose.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <utility>

#include "crdt/expected.hpp"
#include "crdt/value.hpp"

namespace meridian::crdt {

inline std::ostream& operator<<(std::ostream& os, ReplicaId r) {
    return os << r.region << '.' << r.epoch;
}

inline std::ostream& operator<<(std::ostream& os, const Dot& d) {
    return os << d.replica << ':' << d.seq;
}

inline std::ostream& operator<<(std::ostream& os, Hlc h) {
    return os << h.physical_ms() << '+' << h.logical();
}

inline std::ostream& operator<<(std::ostream& os, Error e) {
    return os << describe(e);
}

inline std::ostream& operator<<(std::ostream& os, Causality c) {
    switch (c) {
        case Causality::equal:
            return os << "equal";
        case Causality::dominates:
            return os << "dominates";
        case Causality::dominated:
            return os << "dominated";
        case Causality::concurrent:
            return os << "concurrent";
    }
    return os << "?";
}

inline std::ostream& operator<<(std::ostream& os, const VersionVector& vv) {
    return os << vv.to_string();
}

inline std::ostream& operator<<(std::ostream& os, const DotContext& c) {
    os << "{prefix " << c.prefix() << ", cloud [";
    const char* sep = "";
    for (const Dot& d : c.cloud()) os << std::exchange(sep, " ") << d;
    return os << "]}";
}

template <class T>
std::ostream& operator<<(std::ostream& os, const LwwRegister<T>& r) {
    if (!r.written()) return os << "lww{never written}";
    os << "lww{" << r.stamp().time << " by " << r.stamp().writer << ": ";
    if (r.value()) return os << '"' << *r.value() << "\"}";
    return os << "deleted}";
}

inline std::ostream& operator<<(std::ostream& os, const PnCounter& c) {
    os << "counter{value " << c.value() << ", entries [";
    const char* sep = "";
    for (const auto& e : c.entries())
        os << std::exchange(sep, " ") << e.replica << ":+" << e.increments << "-" << e.decrements;
    os << "], baselines [";
    sep = "";
    for (const auto& b : c.baselines())
        os << std::exchange(sep, " ") << b.replica << ":+" << b.increments << "-" << b.decrements;
    os << "]";
    if (const auto* s = c.seal_in_force())
        os << ", seal{epoch " << s->epoch << " gen " << s->generation << " owner " << s->owner
           << " base " << s->base << (s->existed ? " existed" : "") << " at +" << s->increments
           << "-" << s->decrements << "}";
    return os << "}";
}

template <class T>
std::ostream& operator<<(std::ostream& os, const OrSet<T>& s) {
    os << "set{";
    const char* sep = "";
    for (const auto& [element, dots] : s.entries()) {
        os << std::exchange(sep, " ") << element << '@';
        const char* dot_sep = "";
        for (const Dot& d : dots) os << std::exchange(dot_sep, ",") << d;
    }
    return os << " | context " << s.context() << "}";
}

inline std::ostream& operator<<(std::ostream& os, const Hash& h) {
    os << "hash{";
    const char* sep = "";
    for (const auto& [name, field] : h.fields()) {
        os << std::exchange(sep, " ") << name << "=[";
        const char* write_sep = "";
        for (const auto& w : field.writes)
            os << std::exchange(write_sep, " ") << '"' << w.value << "\"@" << w.dot << '/' << w.time;
        os << "] " << field.counter;
    }
    return os << " | context " << h.context() << "}";
}

inline std::ostream& operator<<(std::ostream& os, const BoundedCounter& c) {
    os << "bounded{value " << c.value() << ", entries [";
    const char* sep = "";
    for (const auto& e : c.entries())
        os << std::exchange(sep, " ") << e.replica << ":+" << e.increments << "-" << e.decrements;
    os << "], transfers [";
    sep = "";
    for (const auto& t : c.transfers())
        os << std::exchange(sep, " ") << t.from << "->" << t.to << ":" << t.amount;
    if (!c.handovers().empty()) {
        os << "], handovers [";
        sep = "";
        for (const auto& h : c.handovers()) {
            os << std::exchange(sep, " ") << h.retired << "=>" << h.heir << ":+" << h.increments
               << "-" << h.decrements;
            for (const auto& t : h.transfers) os << "," << t.to << ":" << t.amount;
        }
    }
    return os << "]}";
}

inline std::ostream& operator<<(std::ostream& os, const Value& v) {
    if (const auto* r = v.as<Register>()) return os << *r;
    if (const auto* c = v.as<PnCounter>()) return os << *c;
    if (const auto* s = v.as<StringSet>()) return os << *s;
    if (const auto* b = v.as<BoundedCounter>()) return os << *b;
    if (const auto* h = v.as<Hash>()) return os << *h;
    return os << name_of(v.type());
}

}  // namespace meridian::crdt
