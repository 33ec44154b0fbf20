#include "conflict/home_table.hpp"

#include <algorithm>
#include <set>

namespace meridian::conflict {

namespace {

std::uint64_t left(std::uint64_t until_ms, std::uint64_t now_ms) {
    return until_ms > now_ms ? until_ms - now_ms : 0;
}

}  // namespace

HomeTable::HomeTable(Options options, const HomeDurable& durable, std::uint64_t started_ms)
    : options_(std::move(options)), started_ms_(started_ms) {
    std::sort(options_.regions.begin(), options_.regions.end());
    for (crdt::RegionId region : options_.regions)
        entries_.push_back(HomeEntry{region, region, 0, {}});
    for (const HomeEntry& e : durable.entries) adopt(e);
    for (const HomePromise& p : durable.promises) {
        if (!find(p.home)) continue;  // a region since removed from the cluster file
        if (HomePromise* mine = find_promise(p.home)) {
            if (p.epoch > mine->epoch) *mine = p;
        } else {
            promises_.push_back(p);
        }
    }
    std::sort(promises_.begin(), promises_.end(),
              [](const HomePromise& a, const HomePromise& b) { return a.home < b.home; });
    retire(durable.retirements);
}

const Retirement* HomeTable::retirement(crdt::ReplicaId replica) const {
    auto it =
        std::lower_bound(retirements_.begin(), retirements_.end(), replica,
                         [](const Retirement& r, crdt::ReplicaId id) { return r.replica < id; });
    return it != retirements_.end() && it->replica == replica ? &*it : nullptr;
}

bool HomeTable::retire(const std::vector<Retirement>& retirements) {
    bool changed = false;
    for (const Retirement& r : retirements) {
        if (!is_region(r.replica.region) || !is_region(r.heir) || r.heir == r.replica.region)
            continue;
        auto it = std::lower_bound(
            retirements_.begin(), retirements_.end(), r.replica,
            [](const Retirement& mine, crdt::ReplicaId id) { return mine.replica < id; });
        if (it == retirements_.end() || it->replica != r.replica) {
            retirements_.insert(it, r);
            changed = true;
        } else if (std::pair(r.epoch, r.heir) < std::pair(it->epoch, it->heir)) {
            *it = r;
            changed = true;
        }
    }
    return changed;
}

HomeEntry* HomeTable::find(crdt::RegionId home) {
    auto it = std::lower_bound(entries_.begin(), entries_.end(), home,
                               [](const HomeEntry& e, crdt::RegionId h) { return e.home < h; });
    return it != entries_.end() && it->home == home ? &*it : nullptr;
}

HomePromise* HomeTable::find_promise(crdt::RegionId home) {
    for (HomePromise& p : promises_)
        if (p.home == home) return &p;
    return nullptr;
}

const HomePromise* HomeTable::find_promise(crdt::RegionId home) const {
    return const_cast<HomeTable*>(this)->find_promise(home);
}

const HomeEntry& HomeTable::entry(crdt::RegionId home) const {
    static const HomeEntry none;
    const HomeEntry* e = const_cast<HomeTable*>(this)->find(home);
    return e ? *e : none;
}

bool HomeTable::owns_any(crdt::RegionId region) const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [&](const HomeEntry& e) { return e.owner == region; });
}

std::optional<HomePromise> HomeTable::promise(crdt::RegionId home) const {
    const HomePromise* p = find_promise(home);
    return p ? std::optional<HomePromise>(*p) : std::nullopt;
}

HomeDurable HomeTable::durable() const {
    HomeDurable d;
    for (const HomeEntry& e : entries_)
        if (e.epoch > 0) d.entries.push_back(e);
    d.promises = promises_;
    d.retirements = retirements_;
    return d;
}

std::uint64_t HomeTable::floor_epoch(crdt::RegionId home) const {
    const HomePromise* p = find_promise(home);
    return std::max(entry(home).epoch, p ? p->epoch : 0);
}

std::uint64_t HomeTable::highest_epoch() const {
    std::uint64_t highest = 0;
    for (const HomeEntry& e : entries_) highest = std::max(highest, floor_epoch(e.home));
    return highest;
}

bool HomeTable::is_region(crdt::RegionId region) const {
    return std::binary_search(options_.regions.begin(), options_.regions.end(), region);
}

bool HomeTable::adopt(const HomeEntry& entry) {
    HomeEntry* mine = find(entry.home);
    if (!mine || entry.epoch <= mine->epoch || !is_region(entry.owner)) return false;
    *mine = entry;
    return true;
}

FailoverVote HomeTable::vote(const FailoverProposal& proposal, const crdt::VersionVector& log_vv,
                             std::uint64_t now_ms) {
    FailoverVote vote;
    vote.round = proposal.round;
    for (const HomeEntry& e : proposal.homes) adopt(e);
    for (const HomeEntry& e : proposal.homes)
        if (find(e.home)) vote.known.push_back(entry(e.home));
    if (!is_region(proposal.to)) {
        vote.reason = "region " + std::to_string(proposal.to) + " is not in the cluster file here";
        return vote;
    }
    for (const HomeEntry& e : proposal.homes) {
        if (!find(e.home)) {
            vote.reason = "home " + std::to_string(e.home) + " is not a region here";
            return vote;
        }
        const HomePromise* p = find_promise(e.home);
        const bool repeated =
            p && p->epoch == proposal.epoch && p->owner == proposal.to && !p->aborted;
        if (proposal.epoch <= floor_epoch(e.home) && !repeated) {
            vote.highest_epoch = highest_epoch();
            vote.reason = "epoch " + std::to_string(proposal.epoch) + " is not above " +
                          std::to_string(floor_epoch(e.home));
            return vote;
        }
    }
    vote.accepted = true;
    vote.vv = log_vv;
    // A region that restarted may have granted leases it no longer remembers.
    vote.lease_left_ms = left(started_ms_ + options_.lease_ms, now_ms);
    for (const HomeEntry& e : proposal.homes) {
        if (HomePromise* p = find_promise(e.home)) {
            *p = HomePromise{e.home, proposal.epoch, proposal.to, false};
        } else {
            promises_.push_back(HomePromise{e.home, proposal.epoch, proposal.to, false});
            std::sort(promises_.begin(), promises_.end(),
                      [](const HomePromise& a, const HomePromise& b) { return a.home < b.home; });
        }
        if (auto g = granted_.find(e.home); g != granted_.end() && g->second.owner != proposal.to)
            vote.lease_left_ms = std::max(vote.lease_left_ms, left(g->second.until_ms, now_ms));
    }
    return vote;
}

bool HomeTable::release(std::uint64_t epoch, const std::vector<crdt::RegionId>& homes) {
    bool changed = false;
    for (crdt::RegionId home : homes)
        if (HomePromise* p = find_promise(home); p && p->epoch == epoch && !p->aborted) {
            p->aborted = true;
            changed = true;
        }
    return changed;
}

LeaseGrant HomeTable::grant(crdt::RegionId requester, const LeaseRequest& request,
                            std::uint64_t now_ms) {
    LeaseGrant grant;
    grant.round = request.round;
    for (const HomeEntry& asked : request.owned) {
        adopt(asked);
        const HomeEntry& e = entry(asked.home);
        if (e.home == 0 || e.owner != requester || e.epoch != asked.epoch) continue;
        const HomePromise* p = find_promise(e.home);
        if (p && p->epoch > e.epoch && !p->aborted) continue;  // voted to move it: let it lapse
        granted_[e.home] = GrantedLease{requester, e.epoch, now_ms + options_.lease_ms};
        grant.homes.push_back(e.home);
    }
    return grant;
}

LeaseRequest HomeTable::lease_request(std::uint64_t round) const {
    LeaseRequest request;
    request.round = round;
    for (const HomeEntry& e : entries_)
        if (e.owner == options_.self) request.owned.push_back(e);
    request.retirements = retirements_;
    return request;
}

void HomeTable::granted(crdt::RegionId grantor, const LeaseRequest& asked, const LeaseGrant& grant,
                        std::uint64_t asked_ms) {
    // Counted from the request, 10% short: the grantor's lease started later, and the two
    // clocks may run at slightly different rates.
    const std::uint64_t until = asked_ms + options_.lease_ms - options_.lease_ms / 10;
    for (crdt::RegionId home : grant.homes) {
        auto it = std::find_if(asked.owned.begin(), asked.owned.end(),
                               [&](const HomeEntry& e) { return e.home == home; });
        if (it == asked.owned.end()) continue;
        HeldLease& held = held_[home];
        if (held.epoch != it->epoch) held = HeldLease{it->epoch, {}};
        std::uint64_t& mine = held.until_ms[grantor];
        mine = std::max(mine, until);
    }
}

std::size_t HomeTable::lease_quorum() const {
    return options_.regions.size() - majority();
}

Serving HomeTable::serving(crdt::RegionId home, const crdt::VersionVector& log_vv,
                           std::uint64_t now_ms) const {
    const HomeEntry& e = entry(home);
    if (e.owner != options_.self) return Serving::elsewhere;
    const HomePromise* p = find_promise(home);
    if (p && p->epoch > e.epoch && p->owner != options_.self && !p->aborted) return Serving::fenced;
    if (!log_vv.includes(e.required)) return Serving::catching_up;
    std::size_t grants = 0;
    if (auto held = held_.find(home); held != held_.end() && held->second.epoch == e.epoch)
        for (const auto& [grantor, until] : held->second.until_ms) grants += until > now_ms ? 1 : 0;
    return grants >= lease_quorum() ? Serving::yes : Serving::no_lease;
}

// ---- FailoverRound -----------------------------------------------------------------------

FailoverRound::FailoverRound(FailoverProposal proposal, std::size_t regions)
    : proposal_(std::move(proposal)), regions_(regions), majority_(regions / 2 + 1) {
    for (const HomeEntry& e : proposal_.homes) latest_[e.home] = e;
}

void FailoverRound::add(crdt::RegionId from, const FailoverVote& vote, std::uint64_t now_ms) {
    if (vote.round != proposal_.round || accepted_.contains(from) || refused_.contains(from))
        return;
    if (!vote.accepted) {
        refused_.emplace(from, vote);
        return;
    }
    accepted_.emplace(from, vote);
    leases_out_ = leases_out_ && vote.lease_left_ms == 0;
    for (const HomeEntry& e : vote.known)
        if (auto it = latest_.find(e.home); it != latest_.end() && e.epoch > it->second.epoch)
            it->second = e;
    commit_at_ms_ = std::max(commit_at_ms_, now_ms + vote.lease_left_ms);
}

std::vector<HomeEntry> FailoverRound::commit() const {
    // The previous owners: as the proposer saw them, and as any voter had them committed since.
    std::set<crdt::RegionId> old_owners;
    for (const HomeEntry& e : proposal_.homes) old_owners.insert(e.owner);
    for (const auto& [home, e] : latest_) old_owners.insert(e.owner);
    crdt::VersionVector required;
    for (const auto& [region, vote] : accepted_)
        for (const auto& v : vote.vv.entries())
            if (old_owners.contains(v.replica.region)) required.advance(v.replica, v.seq);
    std::vector<HomeEntry> entries;
    for (const HomeEntry& e : proposal_.homes)
        entries.push_back(HomeEntry{e.home, proposal_.to, proposal_.epoch, required});
    return entries;
}

std::vector<Retirement> FailoverRound::retirements() const {
    std::set<crdt::RegionId> silent;  // old owners that did not accept
    for (const HomeEntry& e : proposal_.homes)
        if (e.owner != proposal_.to && !accepted_.contains(e.owner)) silent.insert(e.owner);
    std::set<crdt::ReplicaId> replicas;
    for (crdt::RegionId region : silent) replicas.insert(crdt::ReplicaId{region, 0});
    for (const auto& [region, vote] : accepted_)
        for (const auto& v : vote.vv.entries())
            if (silent.contains(v.replica.region)) replicas.insert(v.replica);
    std::vector<Retirement> out;
    for (crdt::ReplicaId replica : replicas)
        out.push_back(Retirement{replica, proposal_.to, proposal_.epoch});
    return out;
}

void HandoverTally::report(crdt::RegionId from, const RetirementReport& report) {
    reports_[report.retirement.replica][from] = report;
}

std::vector<crdt::RegionId> HandoverTally::missing(const Retirement& retirement,
                                                   const std::vector<crdt::RegionId>& regions,
                                                   crdt::RegionId self) const {
    std::vector<crdt::RegionId> out;
    const auto found = reports_.find(retirement.replica);
    for (crdt::RegionId region : regions) {
        if (region == self || region == retirement.replica.region) continue;
        const RetirementReport* r = nullptr;
        if (found != reports_.end()) {
            auto it = found->second.find(region);
            if (it != found->second.end()) r = &it->second;
        }
        if (!r || r->retirement != retirement) out.push_back(region);
    }
    return out;
}

std::uint64_t HandoverTally::needed_seq(crdt::ReplicaId replica) const {
    std::uint64_t seq = 0;
    if (auto found = reports_.find(replica); found != reports_.end())
        for (const auto& [region, r] : found->second) seq = std::max(seq, r.seq);
    return seq;
}

std::uint64_t FailoverRound::highest_refused_epoch() const {
    std::uint64_t highest = 0;
    for (const auto& [region, vote] : refused_) highest = std::max(highest, vote.highest_epoch);
    return highest;
}

const char* describe(Serving serving) {
    switch (serving) {
        case Serving::yes:
            return "serving";
        case Serving::elsewhere:
            return "elsewhere";
        case Serving::fenced:
            return "fenced";
        case Serving::catching_up:
            return "catching_up";
        case Serving::no_lease:
            return "no_lease";
    }
    return "unknown";
}

}  // namespace meridian::conflict
