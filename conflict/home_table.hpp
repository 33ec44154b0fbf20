// HomeTable: who owns each home, under which fencing epoch, and whether this region may execute
// a home's writes right now. Pure state over explicit times (a region's steady clock in ms), no
// I/O: node/home_owners.hpp sends the messages, keeps the timers and persists the durable part.
//
// Every region is a home (a fixed `home = "region"` or a `{region}` hash tag names one). The
// cluster file makes each region the owner of its own home at epoch 0; MERIDIAN FAILOVER moves
// the homes a region owns to another one at a higher epoch. The protocol is single-decree Paxos
// per failover with leases for the owners:
//
//  - Vote: a region accepts a proposal (homes, new owner, epoch E) when E is above every epoch it
//    has accepted or committed for those homes, and persists that promise before answering. It
//    accepts one owner per epoch, so at most one proposal per epoch gains a majority.
//  - Commit: the proposer, with a majority of accepts, commits -- but only after the leases its
//    voters had granted have run out (each vote says how long is left): it waits, then asks for
//    the votes again, and commits with a majority whose leases were all out. Commits spread to
//    every region (on every link that comes up, and with every lease request); higher epochs win.
//  - Lease: an owner executes a home's writes only while regions that granted it a lease, plus
//    itself, could not be outvoted: grants from lease_quorum() = n - majority other regions.
//    Any majority that commits a later epoch without the owner includes one of its grantors,
//    whose vote makes the commit wait out the lease. A region that accepted a higher epoch stops
//    renewing the old owner's lease, and an owner that accepts a proposal moving its home away
//    stops at once. The holder counts its lease from when it asked (before the grantor's clock
//    started it) and gives up 10% early for clock-rate drift.
//  - A region that restarts forgets the leases it granted, so for one lease after its start its
//    votes make the commit wait a full lease.
//  - The new owner serves only once its log holds every write of the old owner that the voters
//    held (the commit's `required` cut): whatever the old home shipped to the majority.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "crdt/ids.hpp"
#include "crdt/version_vector.hpp"

namespace meridian::conflict {

// One home's committed owner.
struct HomeEntry {
    crdt::RegionId home = 0;   // the region the cluster file or the hash tag names
    crdt::RegionId owner = 0;  // where its writes execute
    std::uint64_t epoch = 0;   // 0: the cluster file's owner (the home itself)
    // Writes the owner must hold before it serves: the old owner's, as the voters held them.
    crdt::VersionVector required;
    friend bool operator==(const HomeEntry&, const HomeEntry&) = default;
};

// The highest proposal this region accepted for a home (what it must never vote below).
struct HomePromise {
    crdt::RegionId home = 0;
    std::uint64_t epoch = 0;
    crdt::RegionId owner = 0;
    bool aborted = false;  // its proposer gave up: the old owner's lease may be renewed again
    friend bool operator==(const HomePromise&, const HomePromise&) = default;
};

// A replica whose bounded-counter rights pass to another region: each replica of a region that
// a failover moved homes away from without its vote (it is dead or cut off), as the voters held
// them, and the region's first epoch. The heir hands them over key by key
// (crdt::BoundedCounter::hand_over) once every other region reported the same retirement and
// the heir's log holds what they held of the replica (RetirementReport). Should two failovers
// retire one replica, every region keeps the one of the lowest epoch, and the heir waits for
// every report to name it, so two heirs never both hand one replica over.
struct Retirement {
    crdt::ReplicaId replica;
    crdt::RegionId heir = 0;
    std::uint64_t epoch = 0;  // the failover's
    friend auto operator<=>(const Retirement&, const Retirement&) = default;
};

// What a region keeps on disk: the committed entries that differ from the cluster file's, its
// promises, and every retirement it learned.
struct HomeDurable {
    std::vector<HomeEntry> entries;
    std::vector<HomePromise> promises;
    std::vector<Retirement> retirements;
    friend bool operator==(const HomeDurable&, const HomeDurable&) = default;
};

// ---- messages (encoded in node/peer_messages.cpp) ------------------------------------------

struct FailoverProposal {
    std::uint64_t round = 0;  // the proposer's, to match votes to it
    crdt::RegionId to = 0;
    std::uint64_t epoch = 0;
    std::vector<HomeEntry> homes;  // the entries moved, as committed at the proposer
    bool automatic = false;        // failover_after_ms: voters check they lost the owner too
};

struct FailoverVote {
    std::uint64_t round = 0;
    bool accepted = false;
    std::uint64_t highest_epoch = 0;  // refused: the epoch to beat
    std::uint64_t lease_left_ms = 0;  // accepted: how long the old owner may still serve
    crdt::VersionVector vv;           // accepted: what the voter's log holds
    std::string reason;               // refused: why, for the operator
    // The voter's committed entries for the proposal's homes: a proposer that missed a commit
    // learns the real previous owner, whose writes the new owner must wait for.
    std::vector<HomeEntry> known;
};

struct FailoverOutcome {  // the proposer's decision: commits spread as entries
    std::uint64_t round = 0;
    std::uint64_t epoch = 0;
    std::vector<crdt::RegionId> homes;  // aborted: promises to release
};

struct LeaseRequest {
    std::uint64_t round = 0;
    std::vector<HomeEntry> owned;  // the requester's homes, as committed (the grantor adopts them)
    // Every retirement the requester knows (the grantor learns them too): so they spread on
    // links that never went down, such as one an operator paused and resumed.
    std::vector<Retirement> retirements;
};

struct LeaseGrant {
    std::uint64_t round = 0;
    std::vector<crdt::RegionId> homes;  // those granted
};

// To a retirement's heir, from every other region that learned it: the retirement as the
// sender keeps it, and how much of the replica's writes the sender's log holds. From then on
// the sender spends no rights the replica transferred in keys it has not handed over yet.
struct RetirementReport {
    Retirement retirement;
    std::uint64_t seq = 0;
};

// Why this region does not execute a home's writes now.
enum class Serving {
    yes,
    elsewhere,    // another region owns it
    fenced,       // this region accepted a failover moving it away
    catching_up,  // the log lacks writes of the previous owner (HomeEntry::required)
    no_lease,     // not enough regions renewed this owner's lease
};

class HomeTable {
public:
    struct Options {
        crdt::RegionId self = 0;
        std::vector<crdt::RegionId> regions;  // every region of the cluster, self included
        std::uint64_t lease_ms = 3000;
    };

    HomeTable(Options options, const HomeDurable& durable, std::uint64_t started_ms);

    const HomeEntry& entry(crdt::RegionId home) const;
    const std::vector<HomeEntry>& entries() const { return entries_; }  // by home
    bool owns_any(crdt::RegionId region) const;
    const std::vector<Retirement>& retirements() const { return retirements_; }  // by replica
    const Retirement* retirement(crdt::ReplicaId replica) const;
    // Learns retirements: per replica, the one of the lowest epoch (then heir) wins. Returns
    // whether anything changed (the caller persists it).
    bool retire(const std::vector<Retirement>& retirements);
    std::optional<HomePromise> promise(crdt::RegionId home) const;
    HomeDurable durable() const;
    std::uint64_t highest_epoch() const;  // over entries and promises

    // A commit learned from a peer or made here: taken when its epoch is higher than the
    // entry's. Returns whether anything changed (the caller persists, then spreads it).
    bool adopt(const HomeEntry& entry);

    // Voting on a peer's (or this region's own) proposal. `log_vv` is this region's log.
    // On `accepted` the caller persists before answering.
    FailoverVote vote(const FailoverProposal& proposal, const crdt::VersionVector& log_vv,
                      std::uint64_t now_ms);
    // The proposer gave up on `epoch` for `homes`: old owners' leases may be renewed again.
    bool release(std::uint64_t epoch, const std::vector<crdt::RegionId>& homes);

    // Lease: the grantor's side, then the holder's.
    LeaseGrant grant(crdt::RegionId requester, const LeaseRequest& request, std::uint64_t now_ms);
    LeaseRequest lease_request(std::uint64_t round) const;  // this region's owned homes
    void granted(crdt::RegionId grantor, const LeaseRequest& asked, const LeaseGrant& grant,
                 std::uint64_t asked_ms);

    Serving serving(crdt::RegionId home, const crdt::VersionVector& log_vv,
                    std::uint64_t now_ms) const;
    // How many other regions' grants an owner needs: n - (n/2 + 1).
    std::size_t lease_quorum() const;
    std::size_t majority() const { return options_.regions.size() / 2 + 1; }
    std::uint64_t lease_ms() const { return options_.lease_ms; }

private:
    struct GrantedLease {  // at the grantor
        crdt::RegionId owner = 0;
        std::uint64_t epoch = 0;
        std::uint64_t until_ms = 0;
    };
    struct HeldLease {  // at the holder: grantor -> valid until, for one epoch
        std::uint64_t epoch = 0;
        std::map<crdt::RegionId, std::uint64_t> until_ms;
    };

    bool is_region(crdt::RegionId region) const;
    HomeEntry* find(crdt::RegionId home);
    HomePromise* find_promise(crdt::RegionId home);
    const HomePromise* find_promise(crdt::RegionId home) const;
    std::uint64_t floor_epoch(crdt::RegionId home) const;  // highest accepted or committed

    Options options_;
    std::uint64_t started_ms_;
    std::vector<HomeEntry> entries_;     // one per region, by home
    std::vector<HomePromise> promises_;  // by home
    std::vector<Retirement> retirements_;
    std::map<crdt::RegionId, GrantedLease> granted_;
    std::map<crdt::RegionId, HeldLease> held_;
};

// One failover at its proposer: tallies the votes of every region (its own included).
class FailoverRound {
public:
    FailoverRound(FailoverProposal proposal, std::size_t regions);

    const FailoverProposal& proposal() const { return proposal_; }
    // A region's vote, received at `now_ms` (the first from each region counts).
    void add(crdt::RegionId from, const FailoverVote& vote, std::uint64_t now_ms);
    bool won() const { return accepted_.size() >= majority_; }
    bool lost() const { return refused_.size() > regions_ - majority_; }
    // When every accepting voter's grant to the old owner has run out. A round won with leases
    // still running is asked again from then (the same epoch: voters accept it again), so that
    // the votes committed with hold every write the old owner could still make.
    std::uint64_t commit_at_ms() const { return commit_at_ms_; }
    bool leases_out() const { return leases_out_; }
    // The entries to commit: the new owner, the epoch, and the writes of the old owners the
    // voters held.
    std::vector<HomeEntry> commit() const;
    // The replicas whose rights pass to the new owner: those of every old owner that did not
    // accept (see Retirement).
    std::vector<Retirement> retirements() const;
    std::uint64_t highest_refused_epoch() const;
    const std::map<crdt::RegionId, FailoverVote>& refused() const { return refused_; }
    std::size_t accepted() const { return accepted_.size(); }

private:
    FailoverProposal proposal_;
    std::size_t regions_;
    std::size_t majority_;
    std::map<crdt::RegionId, FailoverVote> accepted_;
    std::map<crdt::RegionId, FailoverVote> refused_;
    std::map<crdt::RegionId, HomeEntry> latest_;  // per home, the highest committed entry seen
    std::uint64_t commit_at_ms_ = 0;
    bool leases_out_ = true;
};

// The heir's side of a retirement: whether it may hand the replica over now. Every region but
// the heir and the retired replica's own must have reported this very retirement, and the
// heir's log must hold every write of the replica that any of them held.
class HandoverTally {
public:
    // A region's latest report replaces its earlier ones (reports come again on every link up).
    void report(crdt::RegionId from, const RetirementReport& report);
    // Regions still to report `retirement`, among `regions` (nothing missing: empty).
    std::vector<crdt::RegionId> missing(const Retirement& retirement,
                                        const std::vector<crdt::RegionId>& regions,
                                        crdt::RegionId self) const;
    // The highest seq of the replica the reports name.
    std::uint64_t needed_seq(crdt::ReplicaId replica) const;

private:
    std::map<crdt::ReplicaId, std::map<crdt::RegionId, RetirementReport>> reports_;
};

// "elsewhere", "fenced", ... for errors and MERIDIAN HOMES.
const char* describe(Serving serving);

}  // namespace meridian::conflict
