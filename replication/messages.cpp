#include "replication/messages.hpp"

#include <cereal/types/array.hpp>

#include "crdt/serialization.hpp"

namespace meridian::replication {

template <class Archive>
void serialize(Archive& ar, Hello& h) {
    ar(h.magic, h.version, h.cluster, h.replica, h.fingerprint, h.nonce);
}
template <class Archive>
void serialize(Archive& ar, Auth& a) {
    ar(a.proof, a.vv);
}
template <class Archive>
void serialize(Archive& ar, Ack& a) {
    ar(a.vv);
}
template <class Archive>
void serialize(Archive& ar, SnapshotDone& d) {
    ar(d.vv);
}

std::string encode(const Hello& m) { return crdt::encode(m); }
std::string encode(const Auth& m) { return crdt::encode(m); }
std::string encode(const Ack& m) { return crdt::encode(m); }
std::string encode(const SnapshotDone& m) { return crdt::encode(m); }

Expected<Hello, std::string> decode_hello(std::string_view b) { return crdt::decode<Hello>(b); }
Expected<Auth, std::string> decode_auth(std::string_view b) { return crdt::decode<Auth>(b); }
Expected<Ack, std::string> decode_ack(std::string_view b) { return crdt::decode<Ack>(b); }
Expected<SnapshotDone, std::string> decode_snapshot_done(std::string_view b) {
    return crdt::decode<SnapshotDone>(b);
}

std::string proof_message(std::string_view cluster, crdt::ReplicaId prover, crdt::ReplicaId verifier,
                          const Nonce& prover_nonce, const Nonce& verifier_nonce) {
    std::string message = "meridian-peer-auth-v1";
    crdt::encode_to(message, std::string(cluster));
    crdt::encode_to(message, prover);
    crdt::encode_to(message, verifier);
    message.append(reinterpret_cast<const char*>(prover_nonce.data()), prover_nonce.size());
    message.append(reinterpret_cast<const char*>(verifier_nonce.data()), verifier_nonce.size());
    return message;
}

}  // namespace meridian::replication
