// Peer-link framing: `u32 length | u8 type | u8 flags | payload [| tag]`, little-endian, where
// length counts the payload as sent and the tag. Flag bit 0 marks an LZ4 payload: a varint raw
// length, then a block compressed against the earlier compressed payloads of the same direction
// (lz4_stream.hpp). Every frame after the Hello carries a 16-byte tag (frame_mac.hpp) over its
// sequence number, header and payload as sent, checked before the payload is decompressed.
// Pure code over byte buffers; one encoder and one decoder per connection direction, each used
// from the single thread that drives that connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"
#include "replication/frame_mac.hpp"
#include "replication/lz4_stream.hpp"

namespace meridian::replication {

enum class FrameType : std::uint8_t {
    hello = 1,
    auth = 2,
    records = 3,
    ack = 4,
    forward = 5,
    forward_reply = 6,
    snapshot_chunk = 7,
    snapshot_done = 8,
    ping = 9,
    rights_request = 10,
    rights_reply = 11,
    homes = 12,
};

inline constexpr std::size_t frame_header_bytes = 6;
inline constexpr std::uint8_t frame_flag_compressed = 0x01;

// For logs and error messages: "records", "ping", ...; "unknown" outside the enum.
std::string_view describe(FrameType type);

struct Frame {
    FrameType type;
    std::string payload;  // as the sender passed it, decompressed
    friend bool operator==(const Frame&, const Frame&) = default;
};

// Byte counts include the 6-byte headers and the tags: wire_bytes is exactly what crossed the
// socket, raw_bytes what it would have been without compression.
struct FrameStats {
    std::uint64_t frames = 0;
    std::uint64_t raw_bytes = 0;
    std::uint64_t wire_bytes = 0;
};

class FrameEncoder {
public:
    struct Options {
        std::size_t compress_threshold = 64;
        std::size_t max_payload_bytes = 256u << 20;  // at most the peer decoder's limit
    };
    FrameEncoder() : FrameEncoder(Options{}) {}
    explicit FrameEncoder(Options options);

    // Appends the frame to `out`, compressing the payload when it is at least
    // compress_threshold bytes and compression actually makes it smaller, and tagging it once the
    // encoder has a key.
    // Precondition: payload.size() <= max_payload_bytes (callers split larger batches; the peer
    // would refuse the frame and drop the link).
    void encode(FrameType type, std::string_view payload, std::string& out);
    // Tags every frame encoded from now on under `key` (the link's send key), numbering them
    // from 0.
    void authenticate(const FrameKey& key);
    const FrameStats& stats() const { return stats_; }

private:
    Options options_;
    StreamCompressor compressor_;
    std::optional<FrameMac> mac_;
    std::uint64_t sequence_ = 0;  // of the next tagged frame
    FrameStats stats_;
};

class FrameDecoder {
public:
    struct Options {
        std::size_t max_payload_bytes = 256u << 20;
        // Frames at the start of the stream that carry no tag: the Hello, which the keys are
        // derived from. Every later frame must carry a valid one.
        std::size_t untagged_frames = 1;
    };
    FrameDecoder() : FrameDecoder(Options{}) {}
    explicit FrameDecoder(Options options);

    // Appends received bytes (ignored once the decoder has failed).
    void feed(std::string_view bytes);

    // The next complete frame, nullopt when more bytes are needed, or an error: a header that
    // announces more than max_payload_bytes (refused from the header alone, before the payload
    // is buffered or anything is allocated for it), an unknown type or flag, a compressed
    // payload that is malformed or whose decompressed size is over the limit or differs from
    // its announced raw length, a frame past the untagged ones that arrives before authenticate()
    // or whose tag is wrong. After an error every call returns it again: the caller drops the
    // link.
    Expected<std::optional<Frame>, std::string> next();

    // Checks the tag of every frame past the untagged ones under `key` (the link's receive key),
    // numbering them from 0. Call it before next() reaches the first tagged frame.
    void authenticate(const FrameKey& key);
    // Whether the decoder failed because a frame's tag was wrong: the frame was injected,
    // altered, replayed, reordered or taken from another link, or the peer's keys differ.
    bool failed_authentication() const { return failed_authentication_; }

    const FrameStats& stats() const { return stats_; }

private:
    Expected<std::optional<Frame>, std::string> fail(std::string reason);

    Options options_;
    StreamDecompressor decompressor_;
    std::optional<FrameMac> mac_;
    std::uint64_t frames_ = 0;  // frames decoded so far
    bool failed_authentication_ = false;
    // Received bytes; buffer_[0, offset_) is consumed and dropped in bulk now and then, so a
    // frame costs no copy of the bytes behind it.
    std::string buffer_;
    std::size_t offset_ = 0;
    std::optional<std::string> error_;
    FrameStats stats_;
};

}  // namespace meridian::replication
