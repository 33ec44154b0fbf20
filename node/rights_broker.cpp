#include "node/rights_broker.hpp"

#include <spdlog/spdlog.h>

#include "conflict/operations.hpp"
#include "crdt/wide_int.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

namespace {

std::string integer_reply(std::int64_t v) {
    std::string out;
    resp::integer(out, v);
    return out;
}

}  // namespace

std::vector<std::pair<crdt::ReplicaId, std::int64_t>> rights_by_replica(
    const crdt::BoundedCounter& counter, const crdt::BoundedCounter::Floor& floor) {
    std::set<crdt::ReplicaId> replicas{floor.holder};
    for (const auto& e : counter.entries()) replicas.insert(e.replica);
    for (const auto& t : counter.transfers()) replicas.insert(t.from), replicas.insert(t.to);
    std::vector<std::pair<crdt::ReplicaId, std::int64_t>> rights;
    for (crdt::ReplicaId replica : replicas)
        rights.emplace_back(replica, counter.rights(replica, floor));
    return rights;
}

struct RightsBroker::Waiting {
    std::uint64_t id = 0;
    std::string key;
    std::uint64_t amount = 0;
    ReplySlot slot;
    std::set<crdt::RegionId> asked;        // regions asked since the last grant
    std::optional<crdt::Dot> waiting_for;  // a granted transfer on its way here
    bool asking = false;
    boost::asio::steady_timer deadline;
    boost::asio::steady_timer look_again;  // when no peer seemed to hold rights
    explicit Waiting(boost::asio::io_context& io) : deadline(io), look_again(io) {}
};

RightsBroker::RightsBroker(
    boost::asio::io_context& io, const ClusterConfig& config, Database& db,
    replication::ReplicationCore& core,
    std::function<void(std::uint64_t, ReplySlot, std::string)> reply_when_durable)
    : io_(io),
      config_(config),
      db_(db),
      core_(core),
      reply_when_durable_(std::move(reply_when_durable)) {}

RightsBroker::~RightsBroker() {
    alive_.reset();
}

void RightsBroker::decrement(const std::string& key, std::uint64_t amount, ReplySlot slot,
                             ClientState&) {
    ++stats_.decrements_waited;
    auto waiting = std::make_unique<Waiting>(io_);
    const std::uint64_t id = next_id_++;
    waiting->id = id;
    waiting->key = key;
    waiting->amount = amount;
    waiting->slot = std::move(slot);
    waiting->deadline.expires_after(std::chrono::milliseconds(config_.rights_timeout_ms));
    waiting->deadline.async_wait([this, id, alive = std::weak_ptr<bool>(alive_)](auto error) {
        if (!error && alive.lock())
            refuse(id,
                   "no rights arrived within " + std::to_string(config_.rights_timeout_ms) + " ms");
    });
    Waiting& w = *waiting;
    waiting_.emplace(id, std::move(waiting));
    ask(w);
}

void RightsBroker::ask(Waiting& w) {
    const conflict::Policy& policy = db_.policy(w.key);
    const crdt::BoundedCounter::Floor floor{policy.min.value_or(0), db_.floor_holder()};
    const crdt::Value* value = db_.keyspace().find(w.key);
    const crdt::BoundedCounter* counter = value ? value->as<crdt::BoundedCounter>() : nullptr;
    const crdt::BoundedCounter empty;
    const crdt::BoundedCounter& bc = counter ? *counter : empty;

    const auto available = crdt::detail::Int128(bc.value()) - floor.min;
    if (available < w.amount)
        return refuse(w.id, "the balance is " + std::to_string(bc.value()) + " with a floor of " +
                                std::to_string(floor.min));
    // The connected peer whose current incarnation holds the most rights.
    std::optional<crdt::RegionId> best;
    std::int64_t best_rights = 0;
    bool any_reachable = false;
    for (crdt::RegionId peer : core_.peers()) {
        if (!core_.established(peer)) continue;
        const replication::PeerStatus status = core_.status(peer, 0);
        if (status.paused) continue;
        any_reachable = true;
        if (w.asked.contains(peer)) continue;
        const std::int64_t rights = bc.rights(status.replica, floor);
        if (rights > best_rights) best = peer, best_rights = rights;
    }
    if (!any_reachable) return refuse(w.id, "no region that could lend rights is reachable");
    if (!best) {
        // The balance covers the decrement, so someone holds the rights; this region's view
        // of who may lag transfers between its peers. Look again shortly, until the deadline.
        w.asked.clear();
        w.look_again.expires_after(std::chrono::milliseconds(20));
        w.look_again.async_wait([this, id = w.id, alive = std::weak_ptr<bool>(alive_)](auto error) {
            if (error || !alive.lock()) return;
            if (auto it = waiting_.find(id); it != waiting_.end() && !it->second->asking)
                ask(*it->second);
        });
        return;
    }
    const std::int64_t mine = std::max<std::int64_t>(0, bc.rights(db_.self(), floor));
    RightsRequest request{w.id, db_.self(), w.key, w.amount - static_cast<std::uint64_t>(mine)};
    if (!core_.send_message(*best, replication::FrameType::rights_request, encode(request)))
        return refuse(w.id, "the link to the holder went down");
    ++stats_.transfers_requested;
    w.asked.insert(*best);
    w.asking = true;
}

void RightsBroker::on_message(crdt::RegionId from, replication::FrameType type,
                              std::string_view payload) {
    if (type == replication::FrameType::rights_request) {
        auto request = decode_rights_request(payload);
        if (!request)
            return spdlog::warn("malformed RightsRequest from region {}: {}", from,
                                request.error());
        return grant(from, *request);
    }
    auto reply = decode_rights_reply(payload);
    if (!reply)
        return spdlog::warn("malformed RightsReply from region {}: {}", from, reply.error());
    auto it = waiting_.find(reply->id);
    if (it == waiting_.end()) return;  // timed out meanwhile; the rights stay here for later
    Waiting& w = *it->second;
    w.asking = false;
    if (reply->granted == 0 || !reply->dot) return ask(w);  // try the next holder
    w.waiting_for = reply->dot;
    on_applied();
}

void RightsBroker::on_applied() {
    const crdt::VersionVector& vv = db_.log().version_vector();
    std::vector<std::uint64_t> ready;
    for (auto& [id, w] : waiting_)
        if (w->waiting_for && vv.contains(*w->waiting_for)) ready.push_back(id);
    for (std::uint64_t id : ready) retry(id);
}

void RightsBroker::retry(std::uint64_t id) {
    Waiting& w = *waiting_.at(id);
    w.waiting_for.reset();
    const conflict::Policy& policy = db_.policy(w.key);
    const std::int64_t amount = -static_cast<std::int64_t>(w.amount);
    Database::KeyWrite write{w.key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::add_to_counter(state, policy, writer, amount);
                             }};
    auto committed = db_.write(std::span(&write, 1), [&](const Database::Committed&) {
        const crdt::Value* value = db_.keyspace().find(w.key);
        return integer_reply(value ? value->as<crdt::BoundedCounter>()->value() : 0);
    });
    if (committed) {
        w.deadline.cancel();
        reply_when_durable_(committed->lsn, std::move(w.slot), std::move(committed->reply));
        waiting_.erase(id);
        return;
    }
    if (committed.error().kind == WriteError::Kind::refused &&
        committed.error().refusal == conflict::Refusal::insufficient_rights) {
        w.asked.clear();  // someone spent meanwhile: ask again, anyone
        return ask(w);
    }
    refuse(id, committed.error().kind == WriteError::Kind::log_failed
                   ? committed.error().message
                   : "the decrement was refused");
}

void RightsBroker::refuse(std::uint64_t id, const std::string& why) {
    auto it = waiting_.find(id);
    if (it == waiting_.end()) return;
    ++stats_.decrements_refused;
    const conflict::Policy& policy = db_.policy(it->second->key);
    std::string out;
    resp::error(out, "ERR insufficient balance: '" + it->second->key.substr(0, 128) +
                         "' cannot go below " + std::to_string(policy.min.value_or(0)) + " (" +
                         why + ")");
    it->second->deadline.cancel();
    it->second->slot.complete(std::move(out));
    waiting_.erase(it);
}

void RightsBroker::grant(crdt::RegionId from, const RightsRequest& request) {
    auto refuse_request = [&] {
        ++stats_.transfers_refused;
        (void)core_.send_message(from, replication::FrameType::rights_reply,
                                 encode(RightsReply{request.id, 0, {}}));
    };
    const conflict::Policy& policy = db_.policy(request.key);
    const crdt::Value* value = db_.keyspace().find(request.key);
    const crdt::BoundedCounter* counter = value ? value->as<crdt::BoundedCounter>() : nullptr;
    if (policy.type != crdt::ValueType::bounded_counter || !counter ||
        request.requester.region != from)
        return refuse_request();
    const crdt::BoundedCounter::Floor floor{policy.min.value_or(0), db_.floor_holder()};
    const std::int64_t mine = counter->rights(db_.self(), floor);
    if (mine <= 0) return refuse_request();
    // What was asked, or half of what is held when that is more: a region
    // that keeps spending gets more each time and asks less often.
    const std::uint64_t held = static_cast<std::uint64_t>(mine);
    const std::uint64_t amount = std::min(held, std::max<std::uint64_t>(request.amount, held / 2));
    Database::KeyWrite write{request.key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                 return conflict::transfer_rights(state, policy, writer,
                                                                  request.requester, amount);
                             }};
    auto committed =
        db_.write(std::span(&write, 1), [](const Database::Committed&) { return std::string(); });
    if (!committed) return refuse_request();
    ++stats_.transfers_granted;
    stats_.rights_granted += amount;
    (void)core_.send_message(
        from, replication::FrameType::rights_reply,
        encode(RightsReply{request.id, amount, crdt::Dot{db_.self(), committed->seq}}));
}

}  // namespace meridian::node
