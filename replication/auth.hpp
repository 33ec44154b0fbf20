// Crypto primitives of the peer handshake: the HMAC-SHA256 challenge-response over the cluster
// secret and the nonces it challenges with. Thin wrappers over OpenSSL; stateless and safe to
// call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace meridian::replication {

using Digest = std::array<std::uint8_t, 32>;
using Nonce = std::array<std::uint8_t, 16>;

// HMAC-SHA256 of `message` under `key` (RFC 2104, any key length).
Digest hmac_sha256(std::string_view key, std::string_view message);

// Compares in time independent of where the digests differ, so a peer cannot learn a valid
// response byte by byte from how fast it is refused.
bool digests_equal(const Digest& a, const Digest& b);

// 16 bytes from OpenSSL's CSPRNG: a fresh challenge the peer cannot predict or replay.
Nonce random_nonce();

// OpenSSL failing to hash or to produce random bytes (out of memory, no entropy source) aborts
// the process with a message: there is no safe value to return, since a predictable nonce or a
// fixed digest would let a peer forge its way into the cluster.

}  // namespace meridian::replication
