#include "checker.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "conflict/home_router.hpp"

namespace meridian::chaos {

std::string_view name_of(OpKind kind) {
    switch (kind) {
        case OpKind::add:
            return "incrby";
        case OpKind::field_add:
            return "hincrby";
        case OpKind::field_assign:
            return "hset";
        case OpKind::set_add:
            return "sadd";
        case OpKind::set_remove:
            return "srem";
        case OpKind::assign:
            return "set";
        case OpKind::assign_expiring:
            return "set-px";
        case OpKind::read_number:
            return "get";
        case OpKind::read_set:
            return "smembers";
    }
    return "?";
}

std::string_view name_of(Outcome outcome) {
    switch (outcome) {
        case Outcome::ok:
            return "ok";
        case Outcome::failed:
            return "failed";
        case Outcome::unknown:
            return "unknown";
    }
    return "?";
}

namespace {

std::string describe(const Op& op) {
    std::ostringstream out;
    out << name_of(op.kind) << " " << op.key;
    if (!op.field.empty()) out << " " << op.field;
    if (!op.element.empty()) out << " " << op.element;
    if (op.kind == OpKind::add || op.kind == OpKind::field_add) out << " " << op.amount;
    if (op.kind == OpKind::assign_expiring) out << " px " << op.ttl_ms;
    out << " by " << op.client << " at " << op.region << " [" << op.invoked_ms << ".."
        << op.completed_ms << "] " << name_of(op.outcome);
    if (!op.error.empty()) out << " (" << op.error << ")";
    return out.str();
}

class Report {
public:
    explicit Report(const CheckOptions& options) : options_(options) {}

    void add(std::string text) {
        ++result_.violation_count;
        if (result_.violations.size() < options_.max_reported)
            result_.violations.push_back(std::move(text));
    }
    CheckResult take() { return std::move(result_); }
    CheckResult& result() { return result_; }

private:
    const CheckOptions& options_;
    CheckResult result_;
};

struct KeyOps {
    std::vector<const Op*> ops;
};

// Whether a failover may have undone `op` (CheckOptions::failovers).
bool undone_by_failover(const Op& op, const KeyPolicy& policy, const CheckOptions& options) {
    if (op.outcome != Outcome::ok || options.failovers.empty()) return false;
    const auto home = conflict::hash_tag(op.key);
    const bool bounded = policy.type == KeyPolicy::Type::bounded_counter;
    for (const auto& f : options.failovers) {
        if (op.region != f.home || op.completed_ms < f.from_ms) continue;
        if (home && f.home == *home && op.completed_ms <= f.to_ms) return true;
        if (bounded && op.completed_ms <= f.bounded_to_ms) return true;
    }
    return false;
}

void check_number(const std::string& key, const KeyPolicy& policy,
                  const std::vector<const Op*>& ops, const FinalState& final_state,
                  const CheckOptions& options, Report& report) {
    // Sums in 128 bits: a long run of large increments must not wrap the bound itself.
    __extension__ using Wide = __int128;
    Wide acked = 0, unknown_up = 0, unknown_down = 0;
    for (const Op* op : ops) {
        if (op->kind == OpKind::add || op->kind == OpKind::field_add) {
            const bool undone = undone_by_failover(*op, policy, options);
            report.result().undone_by_failover += undone ? 1 : 0;
            if (op->outcome == Outcome::ok && !undone) acked += op->amount;
            if (op->outcome == Outcome::unknown || undone)
                (op->amount > 0 ? unknown_up : unknown_down) += op->amount;
        }
        // A read, or the value a write answered with.
        if (policy.type == KeyPolicy::Type::bounded_counter && op->number &&
            *op->number < policy.min) {
            report.add(key + ": read " + std::to_string(*op->number) + " below the floor " +
                       std::to_string(policy.min) + ": " + describe(*op));
        }
    }
    const auto found = final_state.numbers.find(key);
    const std::int64_t value = found == final_state.numbers.end() ? 0 : found->second;
    const Wide low = acked + unknown_down, high = acked + unknown_up;
    if (value < low || value > high) {
        std::ostringstream out;
        out << key << ": final value " << value << " outside [" << static_cast<long long>(low)
            << ", " << static_cast<long long>(high) << "] (acknowledged sum "
            << static_cast<long long>(acked) << ", unknown increments "
            << static_cast<long long>(unknown_up) << ", unknown decrements "
            << static_cast<long long>(unknown_down) << ")"
            << (value < low ? ": acknowledged changes were lost"
                            : ": changes nobody made appeared");
        report.add(out.str());
    }
    if (policy.type == KeyPolicy::Type::bounded_counter && value < policy.min)
        report.add(key + ": final value " + std::to_string(value) + " below the floor " +
                   std::to_string(policy.min));
}

void check_set(const std::string& key, const std::vector<const Op*>& ops,
               const FinalState& final_state, Report& report) {
    std::map<std::string, std::vector<const Op*>> adds, removes;
    for (const Op* op : ops) {
        if (op->kind == OpKind::set_add) adds[op->element].push_back(op);
        if (op->kind == OpKind::set_remove) removes[op->element].push_back(op);
    }
    auto only_failed = [](const std::vector<const Op*>& tries) {
        return std::all_of(tries.begin(), tries.end(),
                           [](const Op* op) { return op->outcome == Outcome::failed; });
    };
    auto check_member = [&](const std::string& element, const std::string& where) {
        auto tried = adds.find(element);
        if (tried == adds.end()) {
            report.add(key + ": " + where + " holds \"" + element + "\", which no SADD wrote");
        } else if (only_failed(tried->second)) {
            report.add(key + ": " + where + " holds \"" + element +
                       "\", whose SADD failed: " + describe(*tried->second.front()));
        }
    };

    for (const Op* op : ops)
        if (op->kind == OpKind::read_set)
            for (const std::string& member : op->members)
                check_member(member, "a read (" + describe(*op) + ")");

    static const std::vector<std::string> none;
    const auto found = final_state.sets.find(key);
    const std::vector<std::string>& members =
        found == final_state.sets.end() ? none : found->second;
    const std::set<std::string> present(members.begin(), members.end());
    for (const std::string& member : present) {
        check_member(member, "the final set");
        if (auto removed = removes.find(member); removed != removes.end()) {
            for (const Op* op : removed->second) {
                if (op->outcome == Outcome::ok) {
                    report.add(key + ": \"" + member +
                               "\" is present although an acknowledged remove observed "
                               "its only add: " +
                               describe(*op));
                    break;
                }
            }
        }
    }
    for (const auto& [element, tries] : adds) {
        for (const Op* op : tries) {
            if (op->outcome != Outcome::ok || present.contains(element) ||
                removes.contains(element))
                continue;
            report.add(key + ": acknowledged add of \"" + element +
                       "\" is lost (no SREM of it was issued): " + describe(*op));
        }
    }
}

void check_register(const std::string& key, const std::vector<const Op*>& ops,
                    const FinalState& final_state, const CheckOptions& options, Report& report) {
    std::map<std::string, const Op*> writes;
    const Op* last_acked_start = nullptr;  // the acknowledged SET invoked last
    for (const Op* op : ops) {
        if (op->kind != OpKind::assign && op->kind != OpKind::field_assign) continue;
        writes.emplace(op->element, op);
        if (op->outcome == Outcome::ok &&
            (!last_acked_start || op->invoked_ms > last_acked_start->invoked_ms))
            last_acked_start = op;
    }
    const auto found = final_state.registers.find(key);
    const std::optional<std::string> value =
        found == final_state.registers.end() ? std::nullopt : found->second;
    if (!value) {
        if (last_acked_start)
            report.add(key + ": reads nil although SETs were acknowledged, e.g. " +
                       describe(*last_acked_start));
        return;
    }
    auto writer = writes.find(*value);
    if (writer == writes.end()) {
        report.add(key + ": holds \"" + *value + "\", which no SET wrote");
        return;
    }
    const Op& w = *writer->second;
    if (w.outcome == Outcome::failed) {
        report.add(key + ": holds \"" + *value + "\", whose SET failed: " + describe(w));
        return;
    }
    if (w.outcome == Outcome::ok && last_acked_start &&
        last_acked_start->invoked_ms > w.completed_ms + options.real_time_slack_ms) {
        report.add(
            key + ": the final value comes from " + describe(w) + ", but " +
            describe(*last_acked_start) +
            " started after it was acknowledged and was acknowledged too: a stale write won");
    }
}

// A key written only by SET ... PX: once every write's TTL has run out (from the moment its
// answer came, plus `slack_ms` for the HLC and the reply's trip) before the final read began,
// the key is gone at every region.
void check_expiring(const std::string& key, const std::vector<const Op*>& ops,
                    const FinalState& final_state, const CheckOptions& options, Report& report) {
    // When a write's TTL ran out at the latest: an unanswered write may have run up to the heal.
    auto runs_out = [&](const Op& op) {
        const std::uint64_t applied =
            op.outcome == Outcome::unknown ? std::max(op.completed_ms, options.healed_ms) : op.completed_ms;
        return applied + op.ttl_ms;
    };
    const Op* last_live = nullptr;  // the write whose TTL runs out last
    for (const Op* op : ops) {
        if (op->kind != OpKind::assign_expiring || op->outcome == Outcome::failed) continue;
        if (!last_live || runs_out(*op) > runs_out(*last_live)) last_live = op;
    }
    const auto& live = final_state.expiring;
    const bool listed = std::binary_search(live.begin(), live.end(), key);
    if (!listed) return;
    if (!last_live) return report.add(key + ": exists, but no SET ... PX of it succeeded");
    const std::uint64_t gone_by = runs_out(*last_live);
    if (gone_by + options.expiry_slack_ms < final_state.read_ms)
        report.add(key + ": still exists " + std::to_string(final_state.read_ms - gone_by) +
                   " ms after its last TTL ran out: " + describe(*last_live));
}

}  // namespace

CheckResult check(const std::vector<const History*>& histories, const FinalState& final_state,
                  const std::function<KeyPolicy(const std::string&)>& policy_of,
                  const CheckOptions& options) {
    Report report(options);
    std::map<std::string, KeyOps> by_key;  // a hash field's ops under its field_number
    std::set<std::string> written;
    for (const History* history : histories) {
        for (const Op& op : *history) {
            const std::string& key = op.field.empty() ? op.key : field_number(op.key, op.field);
            by_key[key].ops.push_back(&op);
            written.insert(op.key);
        }
    }
    // Keys that hold something at the end but were never touched still get checked.
    for (const auto& [key, value] : final_state.numbers) by_key[key];
    for (const auto& [key, members] : final_state.sets) by_key[key];
    for (const auto& [key, value] : final_state.registers) by_key[key];

    for (const auto& [key, entry] : by_key) {
        const KeyPolicy policy = policy_of(key);
        switch (policy.type) {
            case KeyPolicy::Type::counter:
            case KeyPolicy::Type::bounded_counter:
                check_number(key, policy, entry.ops, final_state, options, report);
                break;
            case KeyPolicy::Type::set:
                check_set(key, entry.ops, final_state, report);
                break;
            case KeyPolicy::Type::lww:
                if (policy.expires)
                    check_expiring(key, entry.ops, final_state, options, report);
                else
                    check_register(key, entry.ops, final_state, options, report);
                break;
        }
        ++report.result().keys_checked;
    }
    std::vector<std::string> listed = final_state.keys;
    listed.insert(listed.end(), final_state.expiring.begin(), final_state.expiring.end());
    for (const std::string& key : listed) {
        if (!by_key.contains(key) && !written.contains(key))
            report.add("key \"" + key + "\" exists, but the workload never wrote it");
    }
    return report.take();
}

}  // namespace meridian::chaos
