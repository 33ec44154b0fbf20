// Payloads of the peer protocol's control frames, and their encodings.
// Records frames carry encode_records() (log_record.hpp); Forward, ForwardReply,
// RightsRequest and RightsReply carry payloads the node layer defines.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"
#include "crdt/version_vector.hpp"
#include "replication/auth.hpp"

namespace meridian::replication {

inline constexpr std::uint32_t protocol_magic = 0x4E44524D;  // "MRDN"
// 2: every frame after the Hello carries an authentication tag (frame_mac.hpp).
// 3: Homes frames (the home owners' protocol), and forwarded writes carry their home's epoch.
// 4: a counter's value may carry a seal (crdt/pn_counter.hpp), which version 3 cannot decode.
// 5: a Records frame writes each clock as the difference from the one before it.
// 6: a bounded counter's value may carry handovers, Homes frames carry retirements and their
//    reports (conflict/home_table.hpp), which version 5 cannot decode.
inline constexpr std::uint16_t protocol_version = 6;

// First frame in each direction: who is speaking and under which rules.
struct Hello {
    std::uint32_t magic = protocol_magic;
    std::uint16_t version = protocol_version;
    std::string cluster;
    crdt::ReplicaId replica;        // the speaker's region and epoch
    std::uint64_t fingerprint = 0;  // of the cluster's policies (conflict/policy.hpp)
    Nonce nonce{};             // fresh per connection: the challenge
};

// Second frame: proof of the cluster secret over both nonces, and where the
// speaker's log stands.
struct Auth {
    Digest proof{};
    crdt::VersionVector vv;
};

// The receiver's version vector: what it holds, for catch-up, relays and WAIT.
struct Ack {
    crdt::VersionVector vv;
};

// The end of a full-state sync: the sender's version vector when it began.
struct SnapshotDone {
    crdt::VersionVector vv;
};

std::string encode(const Hello&);
std::string encode(const Auth&);
std::string encode(const Ack&);
std::string encode(const SnapshotDone&);

Expected<Hello, std::string> decode_hello(std::string_view);
Expected<Auth, std::string> decode_auth(std::string_view);
Expected<Ack, std::string> decode_ack(std::string_view);
Expected<SnapshotDone, std::string> decode_snapshot_done(std::string_view);

// The message the proof is an HMAC of: a label, the cluster, both regions and
// both nonces, ordered from the prover's point of view, so a proof is bound to
// this connection and direction and cannot be replayed on another.
std::string proof_message(std::string_view cluster, crdt::ReplicaId prover, crdt::ReplicaId verifier,
                          const Nonce& prover_nonce, const Nonce& verifier_nonce);

}  // namespace meridian::replication
