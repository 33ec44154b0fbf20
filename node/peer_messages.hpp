// The node-level messages regions exchange over the peer link: writes
// forwarded to a key's home region, bounded-counter rights requests, and the
// home owners' protocol. The replication core carries them opaquely (Forward,
// ForwardReply, RightsRequest, RightsReply, Homes frames); this is their content.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "conflict/home_table.hpp"
#include "crdt/expected.hpp"
#include "crdt/ids.hpp"

namespace meridian::node {

// Names a forwarded request for idempotency: the same id is executed once.
struct RequestId {
    crdt::ReplicaId requester;
    std::uint64_t nonce = 0;    // random per requester process, so ids never repeat across restarts
    std::uint64_t counter = 0;

    friend auto operator<=>(const RequestId&, const RequestId&) = default;
};

struct ForwardRequest {
    RequestId id;
    std::vector<std::string> args;  // the client's command, as received
    crdt::RegionId home = 0;        // the keys' home, and the epoch of the owner it was sent to:
    std::uint64_t epoch = 0;        // an owner refuses a write routed by another epoch
};

struct ForwardReply {
    RequestId id;
    std::string reply;             // RESP bytes for the client
    std::optional<crdt::Dot> dot;  // the write's dot, when the command wrote
};

struct RightsRequest {
    std::uint64_t id = 0;
    crdt::ReplicaId requester;  // who receives the rights
    std::string key;
    std::uint64_t amount = 0;
};

struct RightsReply {
    std::uint64_t id = 0;
    std::uint64_t granted = 0;     // 0: refused
    std::optional<crdt::Dot> dot;  // the transfer's dot, when granted
};

// Commits of the home map, sent to every region that comes up and after each failover, with
// every retirement the sender knows.
struct HomeCommits {
    std::vector<conflict::HomeEntry> entries;
    std::vector<conflict::Retirement> retirements;
};

// Everything on a Homes frame.
using HomeMessage = std::variant<conflict::FailoverProposal, conflict::FailoverVote,
                                 conflict::FailoverOutcome, conflict::LeaseRequest,
                                 conflict::LeaseGrant, HomeCommits, conflict::RetirementReport>;

std::string encode(const HomeMessage&);
Expected<HomeMessage, std::string> decode_home_message(std::string_view);

// The body of <data_dir>/homes (node/home_owners.hpp): the same encoding as the messages.
std::string encode(const conflict::HomeDurable&);
Expected<conflict::HomeDurable, std::string> decode_home_durable(std::string_view);

std::string encode(const ForwardRequest&);
std::string encode(const ForwardReply&);
std::string encode(const RightsRequest&);
std::string encode(const RightsReply&);
Expected<ForwardRequest, std::string> decode_forward_request(std::string_view);
Expected<ForwardReply, std::string> decode_forward_reply(std::string_view);
Expected<RightsRequest, std::string> decode_rights_request(std::string_view);
Expected<RightsReply, std::string> decode_rights_reply(std::string_view);

}  // namespace meridian::node
