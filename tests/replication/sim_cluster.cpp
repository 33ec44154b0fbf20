#include "sim_cluster.hpp"

#include <algorithm>
#include <sstream>

#include "crdt/serialization.hpp"

namespace meridian::sim {

using replication::Action;
using replication::FrameType;
using replication::LinkId;
using replication::LoggedRecord;
using replication::LogRecord;

struct SimCluster::Node {
    int index = 0;
    crdt::RegionId region = 0;
    std::uint16_t epoch = 0;
    bool alive = true;
    std::uint64_t restart_at = 0;
    std::int64_t skew_ms = 0;
    SimStore store;
    std::unique_ptr<replication::ReplicationCore> core;
    std::uint64_t durable_lsn = 0;
    std::map<LinkId, int> links;  // link -> other node
};

struct SimCluster::Link {
    int a = 0, b = 0;  // a dialed b
    std::uint64_t last_delivery_to_a = 0, last_delivery_to_b = 0;
};

namespace {

const std::vector<std::string> counter_keys = {"c0", "c1", "c2"};
const std::vector<std::string> set_keys = {"s0", "s1"};
const std::vector<std::string> register_keys = {"r0", "r1", "r2"};
const std::vector<std::string> bounded_keys = {"b0", "b1"};
const std::vector<std::string> hash_keys = {"h0"};

std::int64_t floor_of(const std::string& key) {
    return key == "b1" ? -50 : 0;
}

}  // namespace

SimCluster::SimCluster(SimOptions options) : options_(options), rng_(options.seed) {}
SimCluster::~SimCluster() = default;

crdt::ReplicaId SimCluster::current_replica(int node) const {
    return crdt::ReplicaId{nodes_[node]->region, nodes_[node]->epoch};
}

std::uint64_t SimCluster::physical_ms(int node) const {
    return static_cast<std::uint64_t>(1'000'000 + static_cast<std::int64_t>(now_) +
                                      nodes_[node]->skew_ms);
}

// ---- the network -------------------------------------------------------------

bool SimCluster::blocked(int a, int b) const {
    auto pair = std::minmax(a, b);
    return cut_.contains(pair) || blackhole_.contains(pair);
}

void SimCluster::dial_all() {
    for (int a = 0; a < options_.nodes; ++a) {
        for (int b = a + 1; b < options_.nodes; ++b) {
            if (!nodes_[a]->alive || !nodes_[b]->alive || blocked(a, b)) continue;
            bool linked = false;
            for (auto& [id, other] : nodes_[a]->links) linked |= other == b;
            if (!linked) connect(a, b);
        }
    }
}

void SimCluster::connect(int a, int b) {
    const LinkId id = next_link_++;
    links_[id] = std::make_unique<Link>(Link{a, b, now_, now_});
    nodes_[a]->links[id] = b;
    nodes_[b]->links[id] = a;
    nodes_[a]->core->on_connected(id, nodes_[b]->region, now_);
    nodes_[b]->core->on_connected(id, std::nullopt, now_);
    drive(a);
    drive(b);
}

void SimCluster::disconnect(LinkId id, bool notify_a, bool notify_b) {
    auto it = links_.find(id);
    if (it == links_.end()) return;
    const Link link = *it->second;
    links_.erase(it);
    held_.erase(id);
    nodes_[link.a]->links.erase(id);
    nodes_[link.b]->links.erase(id);
    if (notify_a && nodes_[link.a]->alive) {
        nodes_[link.a]->core->on_disconnected(id, now_);
        drive(link.a);
    }
    if (notify_b && nodes_[link.b]->alive) {
        nodes_[link.b]->core->on_disconnected(id, now_);
        drive(link.b);
    }
}

void SimCluster::push_event(Event event) {
    event.seq = next_event_++;
    events_.push(std::move(event));
}

void SimCluster::handle(Event& event) {
    if (!links_.contains(event.link) || !nodes_[event.node]->alive) return;  // link gone
    Node& node = *nodes_[event.node];
    if (event.kind == Event::Kind::drained) {
        node.core->on_drained(event.link, now_);
    } else {
        node.core->on_frame(event.link, event.type, std::move(event.payload), now_);
    }
    drive(event.node);
}

void SimCluster::check_floors(int node, const char* when) {
    if (!failure_.empty()) return;
    for (const auto& key : bounded_keys) {
        auto it = nodes_[node]->store.keyspace().find(key);
        if (it == nodes_[node]->store.keyspace().end()) continue;
        const auto* bc = it->second.as<crdt::BoundedCounter>();
        if (bc && bc->value() < floor_of(key)) {
            std::ostringstream out;
            out << "bounded counter " << key << " at node " << node << " is " << bc->value()
                << ", below its floor " << floor_of(key) << " (" << when << ", t=" << now_
                << " ms)";
            failure_ = out.str();
        }
    }
}

void SimCluster::drive(int index) {
    Node& node = *nodes_[index];
    for (;;) {
        auto actions = node.core->take_actions();
        if (actions.empty()) return;
        for (Action& action : actions) {
            if (auto* send = std::get_if<replication::SendFrame>(&action)) {
                auto it = links_.find(send->link);
                if (it == links_.end()) continue;
                Link& link = *it->second;
                const int to = link.a == index ? link.b : link.a;
                Event drained{now_ + 1, 0, Event::Kind::drained, send->link, index, send->type, {}};
                push_event(std::move(drained));
                if (blackhole_.contains(std::minmax(index, to)) || held_.contains(send->link)) {
                    held_[send->link].push_back(Event{0, 0, Event::Kind::deliver, send->link, to,
                                                      send->type, std::move(send->payload)});
                    continue;
                }
                std::uint64_t& last =
                    to == link.a ? link.last_delivery_to_a : link.last_delivery_to_b;
                last = std::max(last, now_ + 1 + rng_() % 20);  // in order, like TCP
                const bool data = send->type == FrameType::records ||
                                  send->type == FrameType::ack || send->type == FrameType::ping;
                if (options_.duplicates && data && rng_() % 50 == 0)
                    push_event(Event{last, 0, Event::Kind::deliver, send->link, to, send->type,
                                     send->payload});
                push_event(Event{last, 0, Event::Kind::deliver, send->link, to, send->type,
                                 std::move(send->payload)});
            } else if (auto* close = std::get_if<replication::CloseLink>(&action)) {
                auto it = links_.find(close->link);
                if (it == links_.end()) continue;
                const bool closer_is_a = it->second->a == index;
                disconnect(close->link, !closer_is_a, closer_is_a);
            } else if (auto* apply = std::get_if<replication::ApplyRecords>(&action)) {
                for (LogRecord& record : apply->records) {
                    node.store.join(record.deltas, physical_ms(index));
                    LoggedRecord entry = node.store.append(std::move(record), now_);
                    node.core->on_appended(entry, now_);
                }
                check_floors(index, "after applying records");
            } else if (auto* states = std::get_if<replication::ApplyStates>(&action)) {
                node.store.join(states->states, physical_ms(index));
                LogRecord record;
                record.kind = LogRecord::Kind::state;
                record.deltas = std::move(states->states);
                node.core->on_appended(node.store.append(std::move(record), now_), now_);
                check_floors(index, "after a full-sync chunk");
            } else if (auto* merge = std::get_if<replication::MergeVersionVector>(&action)) {
                LogRecord record;
                record.kind = LogRecord::Kind::vv_merge;
                record.merged = merge->vv;
                node.core->on_appended(node.store.append(std::move(record), now_), now_);
                ++result_.full_syncs;
            }
        }
    }
}

// ---- client operations -------------------------------------------------------

void SimCluster::client_op(int index) {
    Node& node = *nodes_[index];
    const crdt::ReplicaId self = current_replica(index);
    auto pick = [&](const std::vector<std::string>& keys) { return keys[rng_() % keys.size()]; };
    auto state_of = [&](const std::string& key, crdt::ValueType type) -> crdt::Value& {
        return node.store.keyspace().try_emplace(key, crdt::Value::empty(type)).first->second;
    };

    Op op;
    op.node = index;
    std::optional<crdt::Value> delta;
    switch (options_.withdrawals && rng_() % 4 != 0 ? 9 : rng_() % 12) {
        case 0:
        case 1: {
            op.kind = Op::Kind::counter_add;
            op.key = pick(counter_keys);
            op.amount = static_cast<std::int64_t>(rng_() % 101) - 50;
            auto d = state_of(op.key, crdt::ValueType::counter)
                         .as<crdt::PnCounter>()
                         ->add(self, op.amount);
            if (d) delta = crdt::Value(std::move(*d));
            break;
        }
        case 2:
        case 3: {
            op.kind = Op::Kind::set_add;
            op.key = pick(set_keys);
            op.element = "e" + std::to_string(next_element_++);
            delta = crdt::Value(state_of(op.key, crdt::ValueType::set)
                                    .as<crdt::StringSet>()
                                    ->add(self, op.element));
            break;
        }
        case 4: {
            op.kind = Op::Kind::set_remove;
            op.key = pick(set_keys);
            if (next_element_ == 1) return;
            op.element = "e" + std::to_string(1 + rng_() % (next_element_ - 1));
            auto* set = state_of(op.key, crdt::ValueType::set).as<crdt::StringSet>();
            op.observed = set->contains(op.element);
            delta = crdt::Value(set->remove(op.element));
            break;
        }
        case 5:
        case 6: {
            if (rng_() % 4 == 0) {
                op.kind = Op::Kind::reg_expire;
                op.key = pick(register_keys);
                op.stamp = node.store.clock() = crdt::Hlc::tick(node.store.clock(), physical_ms(index));
                if (rng_() % 3 != 0) op.deadline = 1'000'000 + rng_() % 1000;
                delta = state_of(op.key, crdt::ValueType::lww).expire(self, op.stamp, op.deadline);
                break;
            }
            const bool erase = rng_() % 4 == 0;
            op.kind = erase ? Op::Kind::reg_delete : Op::Kind::reg_write;
            op.key = pick(register_keys);
            op.element = erase ? "" : "v" + std::to_string(next_element_++);
            op.stamp = node.store.clock() = crdt::Hlc::tick(node.store.clock(), physical_ms(index));
            std::optional<std::string> value;
            if (!erase) value = op.element;
            delta = crdt::Value(state_of(op.key, crdt::ValueType::lww)
                                    .as<crdt::Register>()
                                    ->assign(self, op.stamp, value));
            break;
        }
        case 10:
        case 11: {
            op.key = pick(hash_keys);
            op.element = "f" + std::to_string(rng_() % 3);
            auto* hash = state_of(op.key, crdt::ValueType::hash).as<crdt::Hash>();
            if (rng_() % 2 == 0) {
                op.kind = Op::Kind::hash_set;
                op.amount = static_cast<std::int64_t>(rng_() % 100);
                op.stamp = node.store.clock() = crdt::Hlc::tick(node.store.clock(), physical_ms(index));
                if (auto it = hash->fields().find(op.element); it != hash->fields().end()) {
                    const auto entries = it->second.counter.entries();
                    op.observed_counts.assign(entries.begin(), entries.end());
                }
                delta = crdt::Value(hash->set(self, op.stamp, op.element, std::to_string(op.amount)));
            } else {
                op.kind = Op::Kind::hash_incr;
                op.amount = 1 + static_cast<std::int64_t>(rng_() % 20);
                if (rng_() % 2 == 0) op.amount = -op.amount;
                auto d = hash->increment(self, op.element, op.amount);
                if (!d) break;
                for (const auto& entry : hash->fields().at(op.element).counter.entries())
                    if (entry.replica == self)
                        op.running_total = op.amount > 0 ? entry.increments : entry.decrements;
                delta = crdt::Value(std::move(*d));
            }
            break;
        }
        default: {
            op.key = pick(bounded_keys);
            auto* bc =
                state_of(op.key, crdt::ValueType::bounded_counter).as<crdt::BoundedCounter>();
            const crdt::BoundedCounter::Floor floor{floor_of(op.key), crdt::ReplicaId{1, 0}};
            // Withdrawals outnumber deposits: the balance keeps hitting its floor.
            const auto choice = options_.withdrawals ? (rng_() % 5 == 0   ? 0
                                                        : rng_() % 3 == 0 ? 2
                                                                          : 1)
                                                     : rng_() % 3;
            if (choice == 0) {
                op.kind = Op::Kind::bc_increment;
                op.amount = 1 + static_cast<std::int64_t>(rng_() % 20);
                auto d = bc->increment(self, static_cast<std::uint64_t>(op.amount));
                if (d) delta = crdt::Value(std::move(*d));
            } else if (choice == 1) {
                op.kind = Op::Kind::bc_decrement;
                op.amount = 1 + static_cast<std::int64_t>(rng_() % 30);
                auto d = bc->decrement(self, static_cast<std::uint64_t>(op.amount), floor);
                if (d) delta = crdt::Value(std::move(*d));
            } else {
                op.kind = Op::Kind::bc_transfer;
                const std::int64_t rights = bc->rights(self, floor);
                const int to = static_cast<int>(rng_() % options_.nodes);
                if (rights <= 0 || to == index) return;
                op.amount =
                    1 + static_cast<std::int64_t>(rng_() % static_cast<std::uint64_t>(rights));
                auto d = bc->transfer(self, current_replica(to),
                                      static_cast<std::uint64_t>(op.amount), floor);
                if (d) delta = crdt::Value(std::move(*d));
            }
            break;
        }
    }
    ++result_.ops;
    if (!delta) {  // refused (insufficient rights): nothing written
        ops_.push_back(op);
        return;
    }
    LogRecord record;
    record.origin = self;
    record.lo = record.hi = node.store.version_vector().get(self) + 1;
    record.deltas.push_back(replication::KeyDelta{op.key, std::move(*delta)});
    op.dot = crdt::Dot{self, record.lo};
    LoggedRecord entry = node.store.append(std::move(record), now_);
    if (options_.fsync_always) node.durable_lsn = entry.lsn;  // acknowledged once on disk
    op.acknowledged = true;
    ++result_.acknowledged;
    ops_.push_back(op);
    node.core->on_appended(entry, now_);
    drive(index);
    check_floors(index, "after a local write");
}

// ---- faults ----------------------------------------------------------------

void SimCluster::crash(int index) {
    Node& node = *nodes_[index];
    node.alive = false;
    node.restart_at = now_ + 100 + rng_() % 900;
    ++result_.crashes;
    std::vector<LinkId> ids;
    for (auto& [id, other] : node.links) ids.push_back(id);
    for (LinkId id : ids) {
        const bool is_a = links_.at(id)->a == index;
        disconnect(id, !is_a, is_a);
    }
}

void SimCluster::restart(int index) {
    Node& node = *nodes_[index];
    // Under fsync = no the unsynced tail is gone, and the region may have
    // shipped some of it: it continues as a new replica (epoch + 1).
    node.store = node.store.recover(node.durable_lsn);
    if (!options_.fsync_always && node.core) ++node.epoch;
    replication::CoreOptions core;
    core.self = current_replica(index);
    core.cluster = "sim";
    core.secret = "sim-secret";
    core.fingerprint = 42;
    for (const auto& other : nodes_)
        if (other->index != index) core.peers.push_back(other->region);
    core.batch_bytes = 4096;  // small batches exercise joining and flow control
    core.make_nonce = [this] {
        replication::Nonce nonce{};
        for (auto& b : nonce) b = static_cast<std::uint8_t>(rng_());
        return nonce;
    };
    node.core = std::make_unique<replication::ReplicationCore>(core, node.store, node.store);
    node.durable_lsn = node.store.next_lsn() - 1;
    node.alive = true;
}

void SimCluster::start_partition() {
    const int a = static_cast<int>(rng_() % options_.nodes);
    const int b = static_cast<int>(rng_() % options_.nodes);
    if (a == b) return;
    auto pair = std::minmax(a, b);
    ++result_.partitions;
    if (rng_() % 2 == 0) {
        blackhole_.insert(pair);  // silently drops: the heartbeat timeout notices
        return;
    }
    cut_.insert(pair);  // resets the connection at once
    std::vector<LinkId> ids;
    for (auto& [id, other] : nodes_[a]->links)
        if (other == b) ids.push_back(id);
    for (LinkId id : ids) disconnect(id, true, true);
}

void SimCluster::heal_partitions() {
    cut_.clear();
    blackhole_.clear();
    for (auto& [id, frames] : held_) {
        Link& link = *links_.at(id);
        for (Event& frame : frames) {
            std::uint64_t& last =
                frame.node == link.a ? link.last_delivery_to_a : link.last_delivery_to_b;
            last = std::max(last, now_ + 1 + rng_() % 20);
            frame.time = last;
            push_event(std::move(frame));
        }
    }
    held_.clear();
}

// ---- the run -----------------------------------------------------------------

SimResult SimCluster::run() {
    for (int i = 0; i < options_.nodes; ++i) {
        auto node = std::make_unique<Node>();
        node->index = i;
        node->region = static_cast<crdt::RegionId>(i + 1);
        node->skew_ms = static_cast<std::int64_t>(rng_() % 101) - 50;
        nodes_.push_back(std::move(node));
    }
    for (int i = 0; i < options_.nodes; ++i) restart(i);

    const std::uint64_t end = options_.write_ms + options_.heal_ms;
    int quiet_checks = 0;
    for (now_ = 0; now_ <= end && failure_.empty(); ++now_) {
        while (!events_.empty() && events_.top().time <= now_) {
            Event event = events_.top();
            events_.pop();
            handle(event);
        }
        const bool writing = now_ < options_.write_ms;
        if (now_ % 10 == 0) {
            for (int i = 0; i < options_.nodes; ++i) {
                if (!nodes_[i]->alive) continue;
                nodes_[i]->core->on_tick(now_);
                drive(i);
            }
        }
        if (now_ % 100 == 0) {
            dial_all();
            for (auto& node : nodes_) {
                if (!node->alive) continue;
                if (rng_() % 2 == 0)
                    node->durable_lsn = node->store.next_lsn() - 1;  // a periodic fsync
                if (options_.retention_records &&
                    node->store.next_lsn() > options_.retention_records)
                    node->store.retain_from(node->store.next_lsn() - options_.retention_records);
            }
        }
        if (writing) {
            for (int i = 0; i < options_.nodes; ++i) {
                if (nodes_[i]->alive &&
                    std::uniform_real_distribution<>(0, 1)(rng_) < options_.op_rate)
                    client_op(i);
            }
            if (options_.crashes && rng_() % 800 == 0) {
                int down = 0;
                for (auto& node : nodes_) down += !node->alive;
                const int victim = static_cast<int>(rng_() % options_.nodes);
                if (down == 0 && nodes_[victim]->alive) crash(victim);
            }
            if (options_.partitions && rng_() % 250 == 0) start_partition();
            if (rng_() % 400 == 0) heal_partitions();
        }
        for (int i = 0; i < options_.nodes; ++i)
            if (!nodes_[i]->alive && (now_ >= nodes_[i]->restart_at || !writing)) restart(i);
        if (now_ == options_.write_ms) heal_partitions();

        if (!writing && now_ % 100 == 0) {
            bool same = true;
            for (auto& node : nodes_)
                same &= node->alive &&
                        node->store.version_vector() == nodes_[0]->store.version_vector() &&
                        node->store.keyspace() == nodes_[0]->store.keyspace();
            quiet_checks = same ? quiet_checks + 1 : 0;
            if (quiet_checks >= 3) break;
        }
    }
    if (failure_.empty()) failure_ = check_final();
    if (!failure_.empty()) {
        // What each node thinks of its peers, for the failure message.
        std::ostringstream state;
        for (auto& node : nodes_) {
            if (!node->alive) continue;
            state << "\n  node " << node->index << " (replica " << node->region << "."
                  << node->epoch << ", next lsn " << node->store.next_lsn() << ", retained from "
                  << node->store.first_retained() << "):";
            for (crdt::RegionId peer : node->core->peers()) {
                auto st = node->core->status(peer, now_);
                state << " [" << peer << ": " << st.state << ", acked " << st.acked.to_string()
                      << ", last error '" << st.stats.last_error << "']";
            }
        }
        failure_ += state.str();
    }
    result_.converged = failure_.empty();
    result_.failure = failure_;
    return result_;
}

// ---- the model -------------------------------------------------------------

std::string SimCluster::check_final() {
    std::ostringstream out;
    for (auto& node : nodes_) {
        if (!node->alive) return "a node is still down at the end";
        if (node->store.version_vector() != nodes_[0]->store.version_vector())
            return "version vectors differ: node " + std::to_string(node->index) + " " +
                   node->store.version_vector().to_string() + " vs node 0 " +
                   nodes_[0]->store.version_vector().to_string();
        for (const auto& [key, value] : nodes_[0]->store.keyspace()) {
            auto it = node->store.keyspace().find(key);
            if (it == node->store.keyspace().end() || !(it->second == value))
                return "key " + key + " differs between node 0 and node " +
                       std::to_string(node->index);
        }
        if (node->store.keyspace().size() != nodes_[0]->store.keyspace().size())
            return "keyspaces differ in size";
    }
    const crdt::VersionVector& vv = nodes_[0]->store.version_vector();
    const auto& keyspace = nodes_[0]->store.keyspace();
    auto survived = [&](const Op& op) { return op.acknowledged && vv.contains(op.dot); };
    for (const Op& op : ops_)
        if (options_.fsync_always && op.acknowledged && !survived(op))
            return "an acknowledged write was lost under fsync = always: key " + op.key + " dot " +
                   std::to_string(op.dot.replica.region) + "." +
                   std::to_string(op.dot.replica.epoch) + ":" + std::to_string(op.dot.seq);

    // Counters: exactly the surviving additions.
    for (const auto& key : counter_keys) {
        std::int64_t expected = 0;
        for (const Op& op : ops_)
            if (op.kind == Op::Kind::counter_add && op.key == key && survived(op))
                expected += op.amount;
        auto it = keyspace.find(key);
        const std::int64_t actual =
            it == keyspace.end() ? 0 : it->second.as<crdt::PnCounter>()->value();
        if (actual != expected)
            return "counter " + key + " is " + std::to_string(actual) +
                   ", the surviving writes imply " + std::to_string(expected);
    }
    // Sets: every surviving add, unless a surviving remove observed it.
    for (const auto& key : set_keys) {
        std::set<std::string> expected;
        for (const Op& op : ops_)
            if (op.kind == Op::Kind::set_add && op.key == key && survived(op))
                expected.insert(op.element);
        for (const Op& op : ops_)
            if (op.kind == Op::Kind::set_remove && op.key == key && op.observed && survived(op))
                expected.erase(op.element);
        auto it = keyspace.find(key);
        std::set<std::string> actual;
        if (it != keyspace.end())
            for (const auto& e : it->second.as<crdt::StringSet>()->value()) actual.insert(e);
        if (actual != expected)
            return "set " + key + " has " + std::to_string(actual.size()) + " members, the model " +
                   std::to_string(expected.size());
    }
    // Registers: the surviving write with the highest (stamp, writer).
    for (const auto& key : register_keys) {
        const Op* winner = nullptr;
        for (const Op& op : ops_) {
            if ((op.kind != Op::Kind::reg_write && op.kind != Op::Kind::reg_delete) ||
                op.key != key || !survived(op))
                continue;
            if (!winner ||
                std::tie(winner->stamp, winner->dot.replica) < std::tie(op.stamp, op.dot.replica))
                winner = &op;
        }
        auto it = keyspace.find(key);
        const std::optional<std::string> actual =
            it == keyspace.end() ? std::nullopt : it->second.as<crdt::Register>()->value();
        std::optional<std::string> expected;
        if (winner && winner->kind == Op::Kind::reg_write) expected = winner->element;
        if (actual != expected)
            return "register " + key + " holds '" + actual.value_or("(nil)") + "', the model '" +
                   expected.value_or("(nil)") + "'";
        // Its TTL: the surviving TTL write with the highest (stamp, writer), void when a register
        // write stamped after it replaced the value.
        const Op* ttl = nullptr;
        for (const Op& op : ops_) {
            if (op.kind != Op::Kind::reg_expire || op.key != key || !survived(op)) continue;
            if (!ttl || std::tie(ttl->stamp, ttl->dot.replica) < std::tie(op.stamp, op.dot.replica)) ttl = &op;
        }
        std::optional<std::uint64_t> expected_deadline = ttl ? ttl->deadline : std::nullopt;
        if (ttl && winner &&
            std::tie(ttl->stamp, ttl->dot.replica) < std::tie(winner->stamp, winner->dot.replica))
            expected_deadline.reset();
        const auto actual_deadline = it == keyspace.end() ? std::nullopt : it->second.deadline();
        if (actual_deadline != expected_deadline)
            return "register " + key + " expires at " +
                   (actual_deadline ? std::to_string(*actual_deadline) : std::string("never")) +
                   ", the model says " +
                   (expected_deadline ? std::to_string(*expected_deadline) : std::string("never"));
    }
    // Whether an HSET had seen an HINCRBY (see Op::observed_counts).
    const auto observed = [](const Op& set, const Op& incr) {
        return std::any_of(
            set.observed_counts.begin(), set.observed_counts.end(), [&](const auto& e) {
                return e.replica == incr.dot.replica &&
                       (incr.amount > 0 ? e.increments : e.decrements) >= incr.running_total;
            });
    };
    // Hashes: a field shows its surviving HSET with the highest (stamp, writer), plus every
    // surviving HINCRBY of it that no surviving HSET of it had observed.
    for (const auto& key : hash_keys) {
        auto it = keyspace.find(key);
        const crdt::Hash* hash = it == keyspace.end() ? nullptr : it->second.as<crdt::Hash>();
        for (const std::string field : {"f0", "f1", "f2"}) {
            const Op* winner = nullptr;
            for (const Op& op : ops_) {
                if (op.kind != Op::Kind::hash_set || op.key != key || op.element != field || !survived(op))
                    continue;
                if (!winner || std::tie(winner->stamp, winner->dot.replica) < std::tie(op.stamp, op.dot.replica))
                    winner = &op;
            }
            std::int64_t sum = 0;
            bool incremented = false;
            for (const Op& op : ops_) {
                if (op.kind != Op::Kind::hash_incr || op.key != key || op.element != field || !survived(op))
                    continue;
                const bool reset = std::any_of(ops_.begin(), ops_.end(), [&](const Op& set) {
                    return set.kind == Op::Kind::hash_set && set.key == key &&
                           set.element == field && survived(set) && observed(set, op);
                });
                if (reset) continue;
                sum += op.amount;
                incremented = true;
            }
            std::optional<std::string> expected;
            if (winner || incremented) expected = std::to_string((winner ? winner->amount : 0) + sum);
            const auto actual = hash ? hash->value_of(field) : std::nullopt;
            if (actual != expected)
                return "hash " + key + " field " + field + " holds '" + actual.value_or("(nil)") +
                       "', the model '" + expected.value_or("(nil)") + "'";
        }
    }
    // Bounded counters: each replica's entry is the running total of a prefix of
    // its acknowledged operations, at least as long as the prefix the version
    // vector covers (a decrement's delta carries the whole state, so an
    // operation lost in a crash may still survive inside a later one).
    for (const auto& key : bounded_keys) {
        auto it = keyspace.find(key);
        if (it == keyspace.end()) continue;
        const auto* bc = it->second.as<crdt::BoundedCounter>();
        for (const auto& entry : bc->entries()) {
            // Running totals after each of the replica's operations on this key.
            std::vector<std::pair<std::uint64_t, std::uint64_t>> prefixes = {{0, 0}};
            std::size_t covered = 0;
            for (const Op& op : ops_) {
                if (op.key != key || !op.acknowledged || op.dot.replica != entry.replica) continue;
                auto next = prefixes.back();
                if (op.kind == Op::Kind::bc_increment)
                    next.first += static_cast<std::uint64_t>(op.amount);
                if (op.kind == Op::Kind::bc_decrement)
                    next.second += static_cast<std::uint64_t>(op.amount);
                prefixes.push_back(next);
                if (vv.contains(op.dot)) covered = prefixes.size() - 1;
            }
            bool matched = false;
            for (std::size_t j = covered; j < prefixes.size(); ++j)
                matched |= prefixes[j] == std::pair(entry.increments, entry.decrements);
            if (!matched) {
                out << "bounded counter " << key << ": replica " << entry.replica.region << "."
                    << entry.replica.epoch << " holds +" << entry.increments << " -"
                    << entry.decrements
                    << ", which is no prefix of its acknowledged operations at least as long as "
                       "the "
                    << covered << " the version vector covers";
                return out.str();
            }
        }
        if (bc->value() < floor_of(key)) return "bounded counter " + key + " ended below its floor";
    }
    return {};
}

}  // namespace meridian::sim
