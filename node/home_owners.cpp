#include "node/home_owners.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "conflict/home_router.hpp"
#include "node/resp_reply.hpp"
#include "storage/checked_file.hpp"

namespace meridian::node {

using resp::error_reply;
using resp::simple_reply;

namespace {

conflict::FailoverVote refused_vote(std::uint64_t round, std::string reason) {
    conflict::FailoverVote vote;
    vote.round = round;
    vote.reason = std::move(reason);
    return vote;
}

constexpr std::string_view kMagic = "MRDNHOM1";
constexpr int kMostAttempts = 3;  // proposals with a fresh epoch after a refusal for an old one
constexpr int kMostAsks = 8;      // rounds of one proposal (each after the leases it waited for)

}  // namespace

std::string not_serving_error(const ClusterConfig& config, const conflict::HomeEntry& entry,
                              conflict::Serving serving) {
    const std::string home(config.directory.name_of(entry.home));
    std::string why;
    switch (serving) {
        case conflict::Serving::fenced:
            why = "is being failed over to another region";
            break;
        case conflict::Serving::catching_up:
            why =
                "is owned here since a failover, and this region is still receiving the previous "
                "owner's writes";
            break;
        case conflict::Serving::no_lease:
            why =
                "has no lease: too few regions renewed this region's ownership (it may be cut "
                "off, or failed over)";
            break;
        default:
            why = "is owned by region " + std::string(config.directory.name_of(entry.owner)) +
                  " at epoch " + std::to_string(entry.epoch);
            break;
    }
    return "TRYAGAIN home " + home + " " + why + ": the write was not applied";
}

// The MERIDIAN FAILOVER in progress here.
struct HomeOwners::Running {
    crdt::RegionId from = 0;
    crdt::RegionId to = 0;
    bool automatic = false;
    ReplySlot slot;
    std::optional<conflict::FailoverRound> round;
    int attempts = 0;
    int asks = 0;
    std::uint64_t deadline_ms = 0;
    // Asks again once the leases ran out, polls for the new owner to serve, gives up at the
    // deadline.
    boost::asio::steady_timer timer;
    explicit Running(boost::asio::io_context& io) : timer(io) {}
};

namespace {

// <data_dir>/homes, or the cluster file's defaults when there is none.
Expected<conflict::HomeDurable, std::string> read_homes_file(Env& env,
                                                             const std::string& data_dir) {
    const std::string path = join_path(data_dir, "homes");
    auto body = read_checked_file(env, path, kMagic);
    if (!body)
        return unexpected(body.error() +
                          " (it holds this region's failover votes: restore it, or remove it only "
                          "if no MERIDIAN FAILOVER ever ran in this cluster)");
    if (!*body) return conflict::HomeDurable{};
    auto decoded = decode_home_durable(**body);
    if (!decoded) return unexpected(path + ": " + decoded.error());
    return std::move(*decoded);
}

}  // namespace

Expected<std::unique_ptr<HomeOwners>, std::string> HomeOwners::open(
    Env& env, boost::asio::io_context& io, const ClusterConfig& config, crdt::RegionId self,
    const std::string& data_dir, Database& db, replication::ReplicationCore& core, Clock clock) {
    auto durable = read_homes_file(env, data_dir);
    if (!durable) return unexpected(durable.error());
    return std::unique_ptr<HomeOwners>(new HomeOwners(
        env, io, config, self, join_path(data_dir, "homes"), *durable, db, core, std::move(clock)));
}

Expected<std::uint16_t, std::string> retired_epochs_below(Env& env, const std::string& data_dir,
                                                          crdt::RegionId self) {
    auto durable = read_homes_file(env, data_dir);
    if (!durable) return unexpected(durable.error());
    std::uint32_t below = 0;
    for (const conflict::Retirement& r : durable->retirements)
        if (r.replica.region == self) below = std::max<std::uint32_t>(below, r.replica.epoch + 1u);
    if (below > std::numeric_limits<std::uint16_t>::max())
        return unexpected(std::string("every epoch of this region was retired by failovers"));
    return static_cast<std::uint16_t>(below);
}

HomeOwners::HomeOwners(Env& env, boost::asio::io_context& io, const ClusterConfig& config,
                       crdt::RegionId self, std::string path, const conflict::HomeDurable& durable,
                       Database& db, replication::ReplicationCore& core, Clock clock)
    : env_(env),
      io_(io),
      config_(config),
      self_(self),
      path_(std::move(path)),
      db_(db),
      core_(core),
      clock_(std::move(clock)),
      table_(
          [&] {
              conflict::HomeTable::Options o;
              o.self = self;
              for (const RegionConfig& r : config.regions) o.regions.push_back(r.id);
              o.lease_ms = config.home_lease_ms;
              return o;
          }(),
          durable, clock_()),
      renew_timer_(io),
      handover_(io, db) {}

HomeOwners::~HomeOwners() {
    alive_.reset();
}

std::string HomeOwners::name(crdt::RegionId region) const {
    const std::string_view n = config_.directory.name_of(region);
    return n.empty() ? std::to_string(region) : std::string(n);
}

conflict::Serving HomeOwners::serving(crdt::RegionId home) const {
    return table_.serving(home, db_.log().version_vector(), clock_());
}

std::uint64_t HomeOwners::writing_epoch(std::string_view key,
                                        const conflict::Policy& policy) const {
    const auto home = conflict::home_of(policy, key, config_.directory);
    if (!home) return 0;
    const conflict::HomeEntry& owned = table_.entry(*home);
    return owned.owner == self_ ? owned.epoch : 0;
}

std::optional<std::string> HomeOwners::refuse_write(crdt::RegionId home) {
    const conflict::Serving now = serving(home);
    if (now == conflict::Serving::yes) return std::nullopt;
    ++stats_.fenced_writes;
    return not_serving_error(config_, entry(home), now);
}

std::size_t HomeOwners::homes_served() const {
    std::size_t served = 0;
    for (const conflict::HomeEntry& e : table_.entries())
        served += serving(e.home) == conflict::Serving::yes ? 1 : 0;
    return served;
}

bool HomeOwners::persist() {
    auto written = write_checked_file(env_, path_, kMagic, encode(table_.durable()));
    if (written) return true;
    ++stats_.persist_errors;
    spdlog::error("writing {}: {}", path_, written.error());
    return false;
}

void HomeOwners::send(crdt::RegionId to, const HomeMessage& message) {
    if (core_.reachable(to))
        (void)core_.send_message(to, replication::FrameType::homes, encode(message));
}

void HomeOwners::broadcast(const HomeMessage& message) {
    const std::string payload = encode(message);
    for (crdt::RegionId peer : core_.peers())
        if (core_.reachable(peer))
            (void)core_.send_message(peer, replication::FrameType::homes, payload);
}

// ---- leases ------------------------------------------------------------------------------------

void HomeOwners::start() {
    renew();
}

void HomeOwners::renew() {
    fail_over_lost_owners();
    const std::uint64_t now = clock_();
    std::erase_if(asked_, [&](const auto& a) { return now - a.second.second > table_.lease_ms(); });
    ask_lease(std::nullopt);
    update_retirements();  // the log may have caught up with what the reports named
    renew_timer_.expires_after(
        std::chrono::milliseconds(std::max<std::uint64_t>(table_.lease_ms() / 3, 1)));
    renew_timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](auto error) {
        if (!error && alive.lock()) renew();
    });
}

void HomeOwners::on_peer_up(crdt::RegionId peer) {
    HomeCommits commits;
    for (const conflict::HomeEntry& e : table_.entries())
        if (e.epoch > 0) commits.entries.push_back(e);
    commits.retirements = table_.retirements();
    if (!commits.entries.empty() || !commits.retirements.empty()) send(peer, commits);
    for (const conflict::Retirement& r : table_.retirements())
        if (r.heir == peer) report(r);
    // A link that comes back may complete a lease quorum now rather than at the next renewal.
    ask_lease(peer);
}

void HomeOwners::ask_lease(std::optional<crdt::RegionId> peer) {
    conflict::LeaseRequest request = table_.lease_request(next_round_++);
    if (request.owned.empty() || table_.lease_quorum() == 0) return;
    asked_[request.round] = {request, clock_()};
    if (peer)
        send(*peer, request);
    else
        broadcast(request);
}

void HomeOwners::adopt(const std::vector<conflict::HomeEntry>& entries) {
    bool changed = false;
    for (const conflict::HomeEntry& e : entries) {
        const crdt::RegionId before = table_.entry(e.home).owner;
        if (!table_.adopt(e)) continue;
        changed = true;
        ++stats_.failovers;
        spdlog::warn("home {} moved from region {} to region {} at epoch {}{}", name(e.home),
                     name(before), name(e.owner), e.epoch,
                     before == self_ ? ": this region no longer executes its writes" : "");
    }
    if (changed) persist();
}

void HomeOwners::retire(const std::vector<conflict::Retirement>& retirements) {
    const std::vector<conflict::Retirement> before = table_.retirements();
    if (!table_.retire(retirements)) return;
    persist();
    for (const conflict::Retirement& r : table_.retirements()) {
        if (std::find(before.begin(), before.end(), r) != before.end()) continue;
        spdlog::warn(
            "the bounded-counter rights of region {} epoch {} pass to region {} (failover "
            "epoch {})",
            name(r.replica.region), r.replica.epoch, name(r.heir), r.epoch);
        report(r);
    }
    update_retirements();
}

void HomeOwners::report(const conflict::Retirement& retirement) {
    if (retirement.heir == self_ || retirement.replica.region == self_) return;
    send(retirement.heir, conflict::RetirementReport{
                              retirement, db_.log().version_vector().get(retirement.replica)});
}

std::string HomeOwners::handover_wait(const conflict::Retirement& retirement) const {
    std::vector<crdt::RegionId> regions;
    for (const RegionConfig& r : config_.regions) regions.push_back(r.id);
    const auto missing = tally_.missing(retirement, regions, self_);
    if (!missing.empty()) {
        std::string names;
        for (crdt::RegionId region : missing) names += (names.empty() ? "" : ", ") + name(region);
        return "waiting for every other region to report it (missing: " + names + ")";
    }
    const std::uint64_t needed = tally_.needed_seq(retirement.replica);
    const std::uint64_t held = db_.log().version_vector().get(retirement.replica);
    if (held < needed)
        return "waiting for this region's log to hold that replica's write " +
               std::to_string(needed) + " (it holds " + std::to_string(held) + ")";
    return "";
}

void HomeOwners::update_retirements() {
    std::vector<crdt::ReplicaId> retiring;
    std::erase_if(ready_, [&](crdt::ReplicaId replica) {
        const conflict::Retirement* r = table_.retirement(replica);
        return !r || r->heir != self_;
    });
    bool started = false;
    for (const conflict::Retirement& r : table_.retirements()) {
        retiring.push_back(r.replica);
        if (r.heir != self_ || std::find(ready_.begin(), ready_.end(), r.replica) != ready_.end())
            continue;
        if (!handover_wait(r).empty()) continue;
        ready_.push_back(r.replica);
        started = true;
        spdlog::warn("handing the bounded-counter rights of region {} epoch {} over to this region",
                     name(r.replica.region), r.replica.epoch);
    }
    const bool was_retired = db_.self_retired();
    db_.set_retirements(std::move(retiring), ready_);
    if (!was_retired && db_.self_retired()) {
        const conflict::Retirement* r = table_.retirement(db_.self());
        spdlog::error(
            "a failover (epoch {}) retired this region's epoch {}: its bounded-counter "
            "rights belong to region {} now, and this region refuses bounded-counter "
            "writes until it is restarted (it then continues as a new epoch)",
            r->epoch, db_.self().epoch, name(r->heir));
    }
    if (started) handover_.sweep();
}

void HomeOwners::on_message(crdt::RegionId from, std::string_view payload) {
    if (!core_.reachable(from)) return;
    auto message = decode_home_message(payload);
    if (!message)
        return spdlog::warn("malformed Homes message from region {}: {}", name(from),
                            message.error());
    const std::uint64_t now = clock_();
    if (auto* proposal = std::get_if<conflict::FailoverProposal>(&*message)) {
        if (auto refusal = automatic_refusal(*proposal))
            return send(from, refused_vote(proposal->round, *refusal));
        const std::vector<conflict::HomeEntry> before = table_.entries();
        conflict::FailoverVote vote = table_.vote(*proposal, db_.log().version_vector(), now);
        for (const conflict::HomeEntry& e : table_.entries())
            if (std::find(before.begin(), before.end(), e) == before.end()) ++stats_.failovers;
        if (!persist() && vote.accepted)
            vote = refused_vote(vote.round, "cannot write its homes file");
        if (vote.accepted)
            spdlog::warn("voted for region {} to own {} home(s) at epoch {}, asked by region {}",
                         name(proposal->to), proposal->homes.size(), proposal->epoch, name(from));
        send(from, vote);
    } else if (auto* vote = std::get_if<conflict::FailoverVote>(&*message)) {
        adopt(vote->known);  // commits this region missed
        if (!running_ || !running_->round) return;
        running_->round->add(from, *vote, now);
        drive();
    } else if (auto* outcome = std::get_if<conflict::FailoverOutcome>(&*message)) {
        if (table_.release(outcome->epoch, outcome->homes)) persist();
    } else if (auto* request = std::get_if<conflict::LeaseRequest>(&*message)) {
        const std::vector<conflict::HomeEntry> before = table_.entries();
        const conflict::LeaseGrant grant = table_.grant(from, *request, now);
        if (table_.entries() != before) {
            ++stats_.failovers;
            persist();
        }
        send(from, grant);
        retire(request->retirements);
    } else if (auto* grant = std::get_if<conflict::LeaseGrant>(&*message)) {
        auto asked = asked_.find(grant->round);
        if (asked != asked_.end())
            table_.granted(from, asked->second.first, *grant, asked->second.second);
    } else if (auto* commits = std::get_if<HomeCommits>(&*message)) {
        adopt(commits->entries);
        retire(commits->retirements);
    } else if (auto* report = std::get_if<conflict::RetirementReport>(&*message)) {
        tally_.report(from, *report);
        update_retirements();
    }
}

// ---- MERIDIAN FAILOVER ---------------------------------------------------------------------

void HomeOwners::failover(std::string_view from_name, std::string_view to_name, ReplySlot slot) {
    const auto from = config_.directory.id_of(from_name);
    const auto to = config_.directory.id_of(to_name);
    if (!from || !to) {
        const std::string_view unknown = !from ? from_name : to_name;
        return slot.complete(
            error_reply("ERR no region named '" + std::string(unknown.substr(0, 64)) + "'"));
    }
    if (*from == *to)
        return slot.complete(error_reply("ERR a failover moves homes to another region"));
    if (running_)
        return slot.complete(error_reply("ERR a failover is already running at this region"));
    if (!table_.owns_any(*from))
        return slot.complete(error_reply("ERR region " + name(*from) + " owns no home"));

    start_failover(*from, *to, false, std::move(slot));
}

void HomeOwners::start_failover(crdt::RegionId from, crdt::RegionId to, bool automatic,
                                ReplySlot slot) {
    running_ = std::make_unique<Running>(io_);
    running_->from = from;
    running_->to = to;
    running_->automatic = automatic;
    running_->slot = std::move(slot);
    // Long enough for a dead owner's lease to run out twice over, and for votes to come back.
    running_->deadline_ms = clock_() + 3ull * table_.lease_ms() + 2ull * config_.forward_timeout_ms;
    spdlog::warn("failover{}: moving the homes of region {} to region {}",
                 automatic ? " (failover_after_ms)" : "", name(from), name(to));
    propose(table_.highest_epoch() + 1);
}

void HomeOwners::fail_over_lost_owners() {
    const std::uint64_t now = clock_();
    std::size_t reached = 1;  // itself
    crdt::RegionId lowest = self_;
    for (crdt::RegionId peer : core_.peers()) {
        if (core_.reachable(peer)) {
            lost_since_.erase(peer);
            ++reached;
            lowest = std::min(lowest, peer);
        } else {
            lost_since_.try_emplace(peer, now);
        }
    }
    const std::uint64_t after = config_.failover_after_ms;
    if (after == 0 || running_ || lowest != self_ || reached < table_.majority() ||
        now < next_automatic_ms_)
        return;
    for (const auto& [peer, since] : lost_since_) {
        if (now - since < after) continue;
        if (!table_.owns_any(peer)) continue;
        auto slot = ReplySlot::callback([](std::string reply) {
            // One RESP line: drop its type byte and CRLF.
            spdlog::warn("failover_after_ms: {}",
                         reply.substr(1, reply.size() > 3 ? reply.size() - 3 : 0));
        });
        return start_failover(peer, self_, true, std::move(slot));
    }
}

// An automatic proposal needs its voters to have lost the old owner too (for half of
// failover_after_ms: they may have noticed later than the proposer).
std::optional<std::string> HomeOwners::automatic_refusal(
    const conflict::FailoverProposal& proposal) const {
    if (!proposal.automatic) return std::nullopt;
    if (config_.failover_after_ms == 0) return "failover_after_ms is off here";
    for (const conflict::HomeEntry& e : proposal.homes) {
        if (e.owner == self_) return "this region is the owner, and alive";
        auto lost = lost_since_.find(e.owner);
        if (core_.reachable(e.owner) || lost == lost_since_.end())
            return "this region still reaches region " + name(e.owner);
        if (clock_() - lost->second < config_.failover_after_ms / 2)
            return "this region lost region " + name(e.owner) + " only " +
                   std::to_string(clock_() - lost->second) + " ms ago";
    }
    return std::nullopt;
}

void HomeOwners::propose(std::uint64_t epoch) {
    Running& r = *running_;
    ++r.attempts;
    r.asks = 0;
    conflict::FailoverProposal p;
    p.to = r.to;
    p.epoch = epoch;
    p.automatic = r.automatic;
    for (const conflict::HomeEntry& e : table_.entries())
        if (e.owner == r.from) p.homes.push_back(e);
    if (p.homes.empty()) {  // a commit learned meanwhile moved them
        std::unique_ptr<Running> done = std::move(running_);
        return done->slot.complete(
            error_reply("ERR region " + name(r.from) + " owns no home any more"));
    }
    r.round.emplace(std::move(p), config_.regions.size());
    ask();
}

void HomeOwners::ask() {
    Running& r = *running_;
    conflict::FailoverProposal p = r.round->proposal();
    p.round = next_round_++;
    r.round.emplace(p, config_.regions.size());
    ++r.asks;
    broadcast(p);
    conflict::FailoverVote own = table_.vote(p, db_.log().version_vector(), clock_());
    if (!persist() && own.accepted) own = refused_vote(p.round, "cannot write its homes file");
    r.round->add(self_, own, clock_());
    wake_at(r.deadline_ms);
    drive();
}

void HomeOwners::drive() {
    Running& r = *running_;
    conflict::FailoverRound& round = *r.round;
    if (round.won()) {
        if (round.leases_out()) {
            const std::vector<conflict::HomeEntry> entries = round.commit();
            adopt(entries);
            retire(round.retirements());
            broadcast(HomeCommits{entries, table_.retirements()});
            ++stats_.failovers_run;
            std::string homes;
            for (const conflict::HomeEntry& e : entries)
                homes += (homes.empty() ? "" : ", ") + name(e.home);
            std::string ok = "OK region " + name(r.to) + " owns " + std::to_string(entries.size()) +
                             " home(s) (" + homes + ") at epoch " +
                             std::to_string(round.proposal().epoch) + ", accepted by " +
                             std::to_string(round.accepted()) + " of " +
                             std::to_string(config_.regions.size()) + " regions";
            if (r.to != self_) return finish(simple_reply(ok));
            // The new owner is here: answer once it serves (a lease, the old owner's writes), so
            // that the next write succeeds.
            renew();
            return await_serving(std::move(ok), entries.front().home, clock_() + table_.lease_ms());
        }
        // Won while the old owner may still hold a lease: ask again once it has run out.
        return wake_at(std::min(round.commit_at_ms() + 1, r.deadline_ms));
    }
    if (!round.lost()) return;
    const std::uint64_t beat = round.highest_refused_epoch();
    if (beat >= round.proposal().epoch && r.attempts < kMostAttempts && clock_() < r.deadline_ms) {
        return propose(std::max(beat, table_.highest_epoch()) + 1);
    }
    finish("");
}

void HomeOwners::await_serving(std::string ok, crdt::RegionId home, std::uint64_t until_ms) {
    const conflict::Serving now = serving(home);
    if (now == conflict::Serving::yes) return finish(simple_reply(ok));
    if (clock_() >= until_ms)
        return finish(
            simple_reply(ok + "; not serving yet here (" + conflict::describe(now) + ")"));
    running_->timer.expires_after(std::chrono::milliseconds(5));
    running_->timer.async_wait([this, ok = std::move(ok), home, until_ms,
                                alive = std::weak_ptr<bool>(alive_)](auto error) mutable {
        if (!error && alive.lock() && running_) await_serving(std::move(ok), home, until_ms);
    });
}

// At `when_ms`: past the deadline the failover gives up; before it, a won round whose voters'
// leases have run out since is asked again.
void HomeOwners::wake_at(std::uint64_t when_ms) {
    const std::uint64_t now = clock_();
    running_->timer.expires_after(std::chrono::milliseconds(when_ms > now ? when_ms - now : 0));
    running_->timer.async_wait([this, alive = std::weak_ptr<bool>(alive_)](auto error) {
        if (error || !alive.lock() || !running_) return;
        if (running_->round->won() && running_->asks < kMostAsks &&
            clock_() < running_->deadline_ms)
            return ask();
        finish("");
    });
}

// An empty reply: the failover did not commit; answers why and releases the voters.
void HomeOwners::finish(std::string reply) {
    std::unique_ptr<Running> r = std::move(running_);
    r->timer.cancel();
    if (reply.empty()) {
        const conflict::FailoverRound& round = *r->round;
        conflict::FailoverOutcome outcome{round.proposal().round, round.proposal().epoch, {}};
        for (const conflict::HomeEntry& e : round.proposal().homes) outcome.homes.push_back(e.home);
        if (table_.release(outcome.epoch, outcome.homes)) persist();
        broadcast(outcome);
        ++stats_.failovers_failed;
        if (r->automatic) next_automatic_ms_ = clock_() + config_.failover_after_ms;
        std::string why;
        for (const auto& [region, vote] : round.refused())
            why += (why.empty() ? "" : "; ") + name(region) + ": " + vote.reason;
        for (const RegionConfig& region : config_.regions)
            if (!round.refused().contains(region.id) && round.accepted() < config_.regions.size() &&
                region.id != self_ && !core_.established(region.id))
                why += (why.empty() ? "" : "; ") + region.name + ": unreachable";
        reply = error_reply("ERR failover not committed: " + std::to_string(round.accepted()) +
                            " of " + std::to_string(config_.regions.size()) +
                            " regions accepted, it needs " + std::to_string(table_.majority()) +
                            (why.empty() ? "" : " (" + why + ")") + "; no home moved");
        spdlog::error("failover of region {} to region {} failed", name(r->from), name(r->to));
    }
    r->slot.complete(std::move(reply));
}

// ---- MERIDIAN HOMES ------------------------------------------------------------------------

std::string HomeOwners::homes_reply() const {
    std::string out;
    resp::array(out, table_.entries().size() + table_.retirements().size());
    for (const conflict::HomeEntry& e : table_.entries()) {
        resp::array(out, 8);
        resp::bulk(out, "home");
        resp::bulk(out, name(e.home));
        resp::bulk(out, "owner");
        resp::bulk(out, name(e.owner));
        resp::bulk(out, "epoch");
        resp::integer(out, static_cast<std::int64_t>(e.epoch));
        resp::bulk(out, "here");
        resp::bulk(out, conflict::describe(serving(e.home)));
    }
    // Then one row per retired replica: whose bounded-counter rights pass to which region.
    for (const conflict::Retirement& r : table_.retirements()) {
        resp::array(out, 8);
        resp::bulk(out, "retired");
        resp::bulk(out, name(r.replica.region) + "/" + std::to_string(r.replica.epoch));
        resp::bulk(out, "heir");
        resp::bulk(out, name(r.heir));
        resp::bulk(out, "epoch");
        resp::integer(out, static_cast<std::int64_t>(r.epoch));
        resp::bulk(out, "handover");
        std::string state;
        if (r.heir != self_)
            state = r.replica.region == self_ ? "retired here" : "reported to the heir";
        else if (std::find(ready_.begin(), ready_.end(), r.replica) != ready_.end())
            state = handover_.sweeping() ? "handing over" : "handed over";
        else
            state = handover_wait(r);
        resp::bulk(out, state);
    }
    return out;
}

}  // namespace meridian::node
