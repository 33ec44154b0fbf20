// Per-frame authentication of a plain-TCP peer link. Once both Hellos are known, each side derives
// two keys from the cluster secret and the two Hellos as sent (HKDF-SHA256): one per direction,
// fresh for every connection since each Hello carries a fresh nonce. Every frame after the Hello
// then carries a 16-byte HMAC-SHA256 tag over its sequence number in that direction, its header
// and its payload as sent, so a frame that was injected, altered, replayed, reordered, reflected
// or spliced from another link fails. Pure code over byte buffers; a FrameMac belongs to one
// direction of one connection and is used from the thread that drives it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace meridian::replication {

using FrameKey = std::array<std::uint8_t, 32>;

struct LinkKeys {
    FrameKey send;     // tags what this side sends
    FrameKey receive;  // checks what the peer sends
};

// HKDF-SHA256 (RFC 5869) of `secret`, with `salt`, expanded with `info` to 32 bytes.
FrameKey hkdf_sha256(std::string_view secret, std::string_view salt, std::string_view info);

// The keys of one connection as seen from one side: the send key of one side is the receive key of
// the other. Both Hellos go into the derivation, so a Hello altered on the way (another nonce,
// region or fingerprint) leaves the two sides with different keys and the first tagged frame fails.
LinkKeys derive_link_keys(std::string_view secret, std::string_view own_hello,
                          std::string_view peer_hello);

inline constexpr std::size_t frame_tag_bytes = 16;  // HMAC-SHA256 truncated as in RFC 4868

// HMAC-SHA256 under one key, truncated to frame_tag_bytes. The key schedule is computed once, so a
// tag costs the hashing of its message and two blocks more.
class FrameMac {
public:
    explicit FrameMac(const FrameKey& key);
    ~FrameMac();
    FrameMac(FrameMac&&) noexcept;
    FrameMac& operator=(FrameMac&&) noexcept;

    // Writes the tag of (sequence, header, payload) to `out` (frame_tag_bytes).
    void tag(std::uint64_t sequence, std::string_view header, std::string_view payload,
             std::uint8_t* out);
    // Whether `tag` (frame_tag_bytes) is that tag; compares in constant time.
    bool verify(std::uint64_t sequence, std::string_view header, std::string_view payload,
                const std::uint8_t* tag);

private:
    struct Context;
    std::unique_ptr<Context> context_;
};

}  // namespace meridian::replication
