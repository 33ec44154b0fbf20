#include "node/home_router.hpp"

#include <random>
#include <spdlog/spdlog.h>

#include "conflict/home_router.hpp"
#include "node/resp_reply.hpp"

namespace meridian::node {

using resp::error_reply;

namespace {

// Answers kept for retransmissions: far more than can be in flight within a
// forward timeout, few enough to stay small.
constexpr std::size_t executed_capacity = 100'000;

}  // namespace

struct HomeRouter::Pending {
    RequestId id;
    crdt::RegionId home = 0;  // where it is sent: the owner
    crdt::RegionId routed_home = 0;
    std::uint64_t epoch = 0;
    std::vector<std::string> args;
    ReplySlot slot;
    bool sent = false;
    std::optional<std::string> reply;         // the home's answer, once it came
    std::optional<crdt::Dot> waiting_for;     // ... and the delta to see applied first
    boost::asio::steady_timer timer;
    explicit Pending(boost::asio::io_context& io) : timer(io) {}
};

HomeRouter::HomeRouter(boost::asio::io_context& io, const ClusterConfig& config, Database& db,
                       replication::ReplicationCore& core, HomeOwners& owners, Execute execute)
    : io_(io),
      config_(config),
      db_(db),
      core_(core),
      owners_(owners),
      execute_(std::move(execute)),
      nonce_(std::random_device{}() * 0x100000001ull ^ std::random_device{}()) {}

HomeRouter::~HomeRouter() { alive_.reset(); }

Expected<std::optional<crdt::RegionId>, std::string> HomeRouter::home_of(std::span<const std::string> keys) const {
    std::optional<crdt::RegionId> home;
    bool local = false;
    for (const std::string& key : keys) {
        const conflict::Policy& policy = db_.policy(key);
        local = local || !policy.home_routed;
        if (policy.home_routed) {
            auto key_home = conflict::home_of(policy, key, config_.directory);
            if (!key_home) return unexpected(key_home.error());
            if (home && *home != *key_home) return unexpected(std::string("keys with different home regions in one command"));
            home = *key_home;
        }
        if (home && local) return unexpected(std::string("keys with and without a home region in one command"));
    }
    return home;
}

std::optional<std::string> HomeRouter::home_elsewhere(std::span<const std::string> keys) const {
    auto home = home_of(keys);
    if (!home) return "ERR " + home.error();
    if (!*home) return std::nullopt;
    const conflict::HomeEntry& entry = owners_.entry(**home);
    if (entry.owner == db_.self().region) return owners_.refuse_write(entry.home);
    return "ERR '" + keys.front().substr(0, 128) + "' has its home at region " +
           std::string(config_.directory.name_of(entry.owner)) +
           ": a transaction runs at one region, so send it to that region";
}

bool HomeRouter::runs_here(std::span<const std::string> keys, const std::vector<std::string>& args,
                           ReplySlot& slot) {
    auto routed = home_of(keys);
    if (!routed) return slot.complete(error_reply("ERR " + routed.error())), false;
    if (!*routed) return true;
    const conflict::HomeEntry& entry = owners_.entry(**routed);
    if (entry.owner == db_.self().region) {
        auto refused = owners_.refuse_write(entry.home);
        if (!refused) return true;
        return slot.complete(error_reply(*refused)), false;
    }
    const crdt::RegionId owner = entry.owner;
    const std::string owner_name(config_.directory.name_of(owner));
    if (!core_.reachable(owner)) {
        ++stats_.unreachable;
        slot.complete(error_reply("TRYAGAIN home region " + owner_name +
                                  " unreachable: the write was not applied anywhere"));
        return false;
    }
    auto pending = std::make_unique<Pending>(io_);
    pending->id = RequestId{db_.self(), nonce_, next_counter_++};
    pending->home = owner;
    pending->routed_home = entry.home;
    pending->epoch = entry.epoch;
    pending->args = args;
    pending->slot = std::move(slot);
    const std::uint64_t counter = pending->id.counter;
    pending->timer.expires_after(std::chrono::milliseconds(config_.forward_timeout_ms));
    pending->timer.async_wait(
        [this, counter, owner_name, alive = std::weak_ptr<bool>(alive_)](auto error) {
            if (error || !alive.lock()) return;
            auto it = pending_.find(counter);
            if (it == pending_.end()) return;
            Pending& p = *it->second;
            if (p.reply) {
                // Applied at the home; its delta is still on the way here.
                return finish(counter, std::move(*p.reply));
            }
            ++stats_.timed_out;
            finish(counter,
                   error_reply("TIMEOUT home region " + owner_name + " did not answer within " +
                               std::to_string(config_.forward_timeout_ms) +
                               " ms: the write may or may not have been applied"));
        });
    send(*pending);
    pending_.emplace(counter, std::move(pending));
    return false;
}

void HomeRouter::send(Pending& pending) {
    const bool queued =
        core_.reachable(pending.home) &&
        core_.send_message(
            pending.home, replication::FrameType::forward,
            encode(ForwardRequest{pending.id, pending.args, pending.routed_home, pending.epoch}));
    if (!queued) return;  // resent when the link is back (on_peer_up)
    stats_.retransmitted += pending.sent ? 1 : 0;
    stats_.forwarded += pending.sent ? 0 : 1;
    pending.sent = true;
}

void HomeRouter::finish(std::uint64_t counter, std::string reply) {
    auto it = pending_.find(counter);
    if (it == pending_.end()) return;
    it->second->timer.cancel();
    it->second->slot.complete(std::move(reply));
    pending_.erase(it);
}

void HomeRouter::on_peer_up(crdt::RegionId peer) {
    for (auto& [counter, pending] : pending_)
        if (pending->home == peer && !pending->reply) send(*pending);
}

void HomeRouter::on_applied() {
    const crdt::VersionVector& vv = db_.log().version_vector();
    std::vector<std::uint64_t> ready;
    for (auto& [counter, pending] : pending_)
        if (pending->reply && (!pending->waiting_for || vv.contains(*pending->waiting_for))) ready.push_back(counter);
    for (std::uint64_t counter : ready) finish(counter, std::move(*pending_[counter]->reply));
}

void HomeRouter::on_message(crdt::RegionId from, replication::FrameType type, std::string_view payload) {
    if (type == replication::FrameType::forward) {
        auto request = decode_forward_request(payload);
        if (!request) return spdlog::warn("malformed Forward from region {}: {}", from, request.error());
        return execute_for(from, std::move(*request));
    }
    auto reply = decode_forward_reply(payload);
    if (!reply) return spdlog::warn("malformed ForwardReply from region {}: {}", from, reply.error());
    if (reply->id.requester != db_.self() || reply->id.nonce != nonce_) return;  // for an earlier process
    auto it = pending_.find(reply->id.counter);
    if (it == pending_.end()) return;  // answered already (timed out, or a duplicate)
    Pending& pending = *it->second;
    pending.reply = std::move(reply->reply);
    pending.waiting_for = reply->dot;
    on_applied();
}

void HomeRouter::execute_for(crdt::RegionId from, ForwardRequest request) {
    auto seen = executed_.find(request.id);
    if (seen != executed_.end()) {
        ++stats_.duplicates_answered;
        if (seen->second.done) answer(from, request.id, seen->second);
        return;  // still running: it answers when done
    }
    if (auto refused = fenced(request)) {
        return answer(from, request.id, Executed{true, error_reply(*refused), std::nullopt});
    }
    executed_[request.id] = Executed{};
    executed_order_.push_back(request.id);
    forget_old();
    ++stats_.executed_for_peers;

    ClientState client;
    client.authenticated = true;
    client.peer_address = "region " + std::string(config_.directory.name_of(from));
    const RequestId id = request.id;
    db_.stamp_next_write(replication::RequestStamp{id.requester, id.nonce, id.counter, {}});
    auto slot = ReplySlot::callback([this, from, id, alive = std::weak_ptr<bool>(alive_)](std::string reply) {
        if (!alive.lock()) return;
        Executed& executed = executed_[id];
        executed.done = true;
        executed.reply = std::move(reply);
        answer(from, id, executed);
    });
    execute_(client, request.args, std::move(slot));
    // The command wrote (its record carries the stamp) or did not write at all.
    auto& executed = executed_[id];
    if (auto dot = db_.last_stamped_dot(); dot && dot->replica == db_.self()) executed.dot = dot;
    db_.clear_request_stamp();
}

std::optional<std::string> HomeRouter::fenced(const ForwardRequest& request) {
    const conflict::HomeEntry& entry = owners_.entry(request.home);
    std::string refused;
    if (entry.home == 0)
        refused = "ERR home region " + std::to_string(request.home) + " is unknown here";
    else if (entry.owner != db_.self().region)
        refused = not_serving_error(config_, entry, conflict::Serving::elsewhere);
    else if (entry.epoch != request.epoch)
        refused = "TRYAGAIN home " + std::string(config_.directory.name_of(entry.home)) +
                  " was routed by epoch " + std::to_string(request.epoch) +
                  ", its owner is at epoch " + std::to_string(entry.epoch) +
                  ": the write was not applied";
    else
        return owners_.refuse_write(entry.home);  // counts its own refusals
    owners_.count_fenced();
    return refused;
}

void HomeRouter::answer(crdt::RegionId to, const RequestId& id, const Executed& executed) {
    // If the link is down the requester resends after reconnecting, and the
    // answer goes out then.
    (void)core_.send_message(to, replication::FrameType::forward_reply,
                             encode(ForwardReply{id, executed.reply, executed.dot}));
}

void HomeRouter::remember(const replication::RequestStamp& stamp, crdt::Dot dot) {
    const RequestId id{stamp.requester, stamp.nonce, stamp.counter};
    if (executed_.contains(id)) return;
    executed_[id] = Executed{true, stamp.reply, dot};
    executed_order_.push_back(id);
    forget_old();
}

void HomeRouter::forget_old() {
    while (executed_order_.size() > executed_capacity) {
        auto it = executed_.find(executed_order_.front());
        if (it != executed_.end() && it->second.done) executed_.erase(it);
        executed_order_.pop_front();
    }
}

}  // namespace meridian::node
