// The chaos run's history: every operation a client issued, what it asked and what it learned
// (ok, failed, or unknown when the answer never came). Each client thread appends to its own
// History; the checker reads them all once the run is over. Plain values, no locking.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace meridian::chaos {

// ok: the node answered success, the effect happened. failed: the node answered an error that
// means "not applied". unknown: no answer (timeout, connection lost) or an error that leaves the
// effect open (WAL failure, dropped reply): it may or may not have happened, at any time later.
enum class Outcome { ok, failed, unknown };

enum class OpKind {
    add,              // INCRBY / DECRBY on a counter or bounded counter: `amount`
    field_add,        // HINCRBY key field amount: a hash field used as a counter
    field_assign,     // HSET key field value (each value is written once)
    set_add,          // SADD key element (each element is added once, by one operation)
    set_remove,       // SREM key element, issued only after this region showed the element
    assign,           // SET key value (each value is written once)
    assign_expiring,  // SET key value PX ttl_ms (each value is written once)
    read_number,      // GET on a counter: `number`
    read_set,         // SMEMBERS: `members`
};

struct Op {
    OpKind kind = OpKind::add;
    std::string key;
    std::int64_t amount = 0;  // add, field_add
    std::string element;      // set_add, set_remove: the element; assign, field_assign: the value
    std::string field;        // field_add, field_assign: the hash field
    Outcome outcome = Outcome::unknown;
    std::string region;                  // where it ran
    std::string client;                  // which client ("us-east/1", "nemesis")
    std::uint64_t invoked_ms = 0;        // wall clock (the nodes' HLC clock) before sending
    std::uint64_t completed_ms = 0;      // after the answer, or when it was given up
    std::string error;                   // the error reply or I/O error, if any
    std::optional<std::int64_t> number;  // read_number: the value read (nil reads as 0)
    std::vector<std::string> members;    // read_set
    std::uint64_t ttl_ms = 0;            // assign_expiring
};

using History = std::vector<Op>;

std::string_view name_of(OpKind kind);
std::string_view name_of(Outcome outcome);

// What a region reads at the end, once every region reads the same.
// The name under which a hash field's number is checked (FinalState::numbers, KeyPolicy).
inline std::string field_number(const std::string& key, const std::string& field) {
    return key + "/" + field;
}

struct FinalState {
    // Counters (absent key: 0), and hash fields under field_number (absent field: 0).
    std::map<std::string, std::int64_t> numbers;
    std::map<std::string, std::vector<std::string>> sets;         // members, sorted
    std::map<std::string, std::optional<std::string>> registers;  // nil: std::nullopt
    std::vector<std::string> keys;      // KEYS *, sorted, but for keys written with a TTL:
    std::vector<std::string> expiring;  // those, apart: they vanish as time passes
    std::uint64_t read_ms = 0;  // wall clock when the read began (for TTLs)
};

// How the workload's keys are typed (matching the cluster file the runner writes).
struct KeyPolicy {
    enum class Type { counter, bounded_counter, set, lww };
    Type type = Type::lww;
    std::int64_t min = 0;  // bounded counters (and home-routed counters with a floor)
    bool expires = false;  // lww keys written only with a TTL
};

}  // namespace meridian::chaos
