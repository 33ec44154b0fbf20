#include "node/peer_messages.hpp"

#include "crdt/serialization.hpp"

namespace meridian::node {

template <class Archive>
void serialize(Archive& ar, RequestId& id) {
    ar(id.requester, id.nonce, id.counter);
}
template <class Archive>
void serialize(Archive& ar, ForwardRequest& m) {
    ar(m.id, m.args);
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
