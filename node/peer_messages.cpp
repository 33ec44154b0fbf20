#include "node/peer_messages.hpp"

#include "crdt/serialization.hpp"

namespace meridian::conflict {

template <class Archive>
void serialize(Archive& ar, HomeEntry& m) {
    ar(m.home, m.owner, m.epoch, m.required);
}
template <class Archive>
void serialize(Archive& ar, HomePromise& m) {
    ar(m.home, m.epoch, m.owner, m.aborted);
}
template <class Archive>
void serialize(Archive& ar, Retirement& m) {
    ar(m.replica, m.heir, m.epoch);
}
template <class Archive>
void serialize(Archive& ar, RetirementReport& m) {
    ar(m.retirement, m.seq);
}
// Retirements last, and only when there are some: a homes file written before them reads as
// it was, and one without any keeps its bytes. (The homes file is a HomeDurable alone, so
// whatever remains of the input is its retirements.)
template <class Archive>
void serialize(Archive& ar, HomeDurable& m) {
    ar(m.entries, m.promises);
    if constexpr (Archive::is_loading::value) {
        if (ar.remaining() > 0) ar(m.retirements);
    } else if (!m.retirements.empty()) {
        ar(m.retirements);
    }
}
template <class Archive>
void serialize(Archive& ar, FailoverProposal& m) {
    ar(m.round, m.to, m.epoch, m.homes, m.automatic);
}
template <class Archive>
void serialize(Archive& ar, FailoverVote& m) {
    ar(m.round, m.accepted, m.highest_epoch, m.lease_left_ms, m.vv, m.reason, m.known);
}
template <class Archive>
void serialize(Archive& ar, FailoverOutcome& m) {
    ar(m.round, m.epoch, m.homes);
}
template <class Archive>
void serialize(Archive& ar, LeaseRequest& m) {
    ar(m.round, m.owned, m.retirements);
}
template <class Archive>
void serialize(Archive& ar, LeaseGrant& m) {
    ar(m.round, m.homes);
}

}  // namespace meridian::conflict

namespace meridian::node {

template <class Archive>
void serialize(Archive& ar, HomeCommits& m) {
    ar(m.entries, m.retirements);
}

template <class Archive>
void serialize(Archive& ar, RequestId& id) {
    ar(id.requester, id.nonce, id.counter);
}
template <class Archive>
void serialize(Archive& ar, ForwardRequest& m) {
    ar(m.id, m.args, m.home, m.epoch);
}
template <class Archive>
void serialize(Archive& ar, ForwardReply& m) {
    ar(m.id, m.reply, m.dot);
}
template <class Archive>
void serialize(Archive& ar, RightsRequest& m) {
    ar(m.id, m.requester, m.key, m.amount);
}
template <class Archive>
void serialize(Archive& ar, RightsReply& m) {
    ar(m.id, m.granted, m.dot);
}

std::string encode(const HomeMessage& m) {
    return crdt::encode(m);
}
Expected<HomeMessage, std::string> decode_home_message(std::string_view b) {
    return crdt::decode<HomeMessage>(b);
}

std::string encode(const conflict::HomeDurable& m) {
    return crdt::encode(m);
}
Expected<conflict::HomeDurable, std::string> decode_home_durable(std::string_view b) {
    return crdt::decode<conflict::HomeDurable>(b);
}

std::string encode(const ForwardRequest& m) { return crdt::encode(m); }
std::string encode(const ForwardReply& m) { return crdt::encode(m); }
std::string encode(const RightsRequest& m) { return crdt::encode(m); }
std::string encode(const RightsReply& m) { return crdt::encode(m); }

Expected<ForwardRequest, std::string> decode_forward_request(std::string_view b) {
    auto m = crdt::decode<ForwardRequest>(b);
    if (m && m->args.empty()) return unexpected(std::string("a forwarded request without a command"));
    return m;
}
Expected<ForwardReply, std::string> decode_forward_reply(std::string_view b) {
    return crdt::decode<ForwardReply>(b);
}
Expected<RightsRequest, std::string> decode_rights_request(std::string_view b) {
    return crdt::decode<RightsRequest>(b);
}
Expected<RightsReply, std::string> decode_rights_reply(std::string_view b) {
    return crdt::decode<RightsReply>(b);
}

}  // namespace meridian::node
