// Peer-link framing: `u32 length | u8 type | u8 flags | payload`, little-endian, where length
// counts the payload as sent. Flag bit 0 marks an LZ4 payload: a varint raw length, then a block
// compressed against the earlier compressed payloads of the same direction (lz4_stream.hpp).
// Pure code over byte buffers; one encoder and one decoder per connection direction, each used
// from the single thread that drives that connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"
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

// Byte counts include the 6-byte headers: wire_bytes is exactly what crossed the socket,
// raw_bytes what it would have been without compression.
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
    // compress_threshold bytes and compression actually makes it smaller.
    // Precondition: payload.size() <= max_payload_bytes (callers split larger batches; the peer
    // would refuse the frame and drop the link).
    void encode(FrameType type, std::string_view payload, std::string& out);
    const FrameStats& stats() const { return stats_; }

private:
    Options options_;
    StreamCompressor compressor_;
    FrameStats stats_;
};

class FrameDecoder {
public:
    struct Options {
        std::size_t max_payload_bytes = 256u << 20;
    };
    FrameDecoder() : FrameDecoder(Options{}) {}
    explicit FrameDecoder(Options options);

    // Appends received bytes (ignored once the decoder has failed).
    void feed(std::string_view bytes);

    // The next complete frame, nullopt when more bytes are needed, or an error: a header that
    // announces more than max_payload_bytes (refused from the header alone, before the payload
    // is buffered or anything is allocated for it), an unknown type or flag, a compressed
    // payload that is malformed or whose decompressed size is over the limit or differs from
    // its announced raw length. After an error every call returns it again: the caller drops
    // the link.
    Expected<std::optional<Frame>, std::string> next();

    const FrameStats& stats() const { return stats_; }

private:
    Expected<std::optional<Frame>, std::string> fail(std::string reason);

    Options options_;
    StreamDecompressor decompressor_;
    // Received bytes; buffer_[0, offset_) is consumed and dropped in bulk now and then, so a
    // frame costs no copy of the bytes behind it.
    std::string buffer_;
    std::size_t offset_ = 0;
    std::optional<std::string> error_;
    FrameStats stats_;
};

}  // namespace meridian::replication
