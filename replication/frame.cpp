#include "replication/frame.hpp"

#include <cassert>
#include <limits>

namespace meridian::replication {

namespace {

constexpr std::uint8_t max_frame_type = static_cast<std::uint8_t>(FrameType::homes);

std::size_t varint_size(std::uint64_t v) {
    std::size_t n = 1;
    for (; v >= 0x80; v >>= 7) ++n;
    return n;
}

void append_varint(std::uint64_t v, std::string& out) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    out.push_back(static_cast<char>(v));
}

struct Varint {
    std::uint64_t value;
    std::size_t bytes;
};

// LEB128 as in crdt/compact_archive.hpp; nullopt if truncated or beyond 64 bits.
std::optional<Varint> read_varint(std::string_view in) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < in.size() && i < 10; ++i) {
        const auto b = static_cast<std::uint8_t>(in[i]);
        if (i == 9 && b > 1) return std::nullopt;
        v |= std::uint64_t{b & 0x7Fu} << (7 * i);
        if (!(b & 0x80)) return Varint{v, i + 1};
    }
    return std::nullopt;
}

void put_u32_le(std::uint32_t v, char* out) {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

std::uint32_t get_u32_le(const char* in) {
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= std::uint32_t{static_cast<std::uint8_t>(in[i])} << (8 * i);
    return v;
}

}  // namespace

std::string_view describe(FrameType type) {
    switch (type) {
        case FrameType::hello:
            return "hello";
        case FrameType::auth:
            return "auth";
        case FrameType::records:
            return "records";
        case FrameType::ack:
            return "ack";
        case FrameType::forward:
            return "forward";
        case FrameType::forward_reply:
            return "forward_reply";
        case FrameType::snapshot_chunk:
            return "snapshot_chunk";
        case FrameType::snapshot_done:
            return "snapshot_done";
        case FrameType::ping:
            return "ping";
        case FrameType::rights_request:
            return "rights_request";
        case FrameType::rights_reply:
            return "rights_reply";
        case FrameType::homes:
            return "homes";
    }
    return "unknown";
}

FrameEncoder::FrameEncoder(Options options) : options_(options) {}

void FrameEncoder::authenticate(const FrameKey& key) {
    mac_.emplace(key);
    sequence_ = 0;
}

void FrameEncoder::encode(FrameType type, std::string_view payload, std::string& out) {
    assert(payload.size() <= options_.max_payload_bytes &&
           payload.size() <= std::numeric_limits<std::uint32_t>::max() - frame_tag_bytes);
    const std::size_t start = out.size();
    out.append(frame_header_bytes, '\0');

    std::uint8_t flags = 0;
    const std::size_t prefix = varint_size(payload.size());
    if (payload.size() >= options_.compress_threshold && payload.size() > prefix + 1) {
        append_varint(payload.size(), out);
        // Worth it only if prefix + block comes out strictly shorter than the payload itself.
        if (compressor_.compress(payload, payload.size() - prefix - 1, out)) {
            flags = frame_flag_compressed;
        } else {
            out.resize(start + frame_header_bytes);
        }
    }
    if (flags == 0) out.append(payload);

    const std::size_t body = out.size() - start - frame_header_bytes;
    const std::size_t tag = mac_ ? frame_tag_bytes : 0;
    put_u32_le(static_cast<std::uint32_t>(body + tag), out.data() + start);
    out[start + 4] = static_cast<char>(type);
    out[start + 5] = static_cast<char>(flags);
    if (mac_) {
        out.resize(out.size() + tag);
        const char* frame = out.data() + start;
        mac_->tag(sequence_++, std::string_view(frame, frame_header_bytes),
                  std::string_view(frame + frame_header_bytes, body),
                  reinterpret_cast<std::uint8_t*>(out.data() + start + frame_header_bytes + body));
    }

    ++stats_.frames;
    stats_.raw_bytes += frame_header_bytes + payload.size() + tag;
    stats_.wire_bytes += frame_header_bytes + body + tag;
}

FrameDecoder::FrameDecoder(Options options) : options_(options) {}

void FrameDecoder::authenticate(const FrameKey& key) {
    mac_.emplace(key);
}

void FrameDecoder::feed(std::string_view bytes) {
    if (error_) return;
    // Drop consumed bytes once they are at least half the buffer: each byte is moved at most
    // once on average, and a long partial frame is not moved at all.
    if (offset_ > 0 && offset_ >= buffer_.size() - offset_) {
        buffer_.erase(0, offset_);
        offset_ = 0;
    }
    buffer_.append(bytes);
}

Expected<std::optional<Frame>, std::string> FrameDecoder::fail(std::string reason) {
    error_ = reason;
    buffer_ = std::string();
    offset_ = 0;
    return unexpected(std::move(reason));
}

Expected<std::optional<Frame>, std::string> FrameDecoder::next() {
    if (error_) return unexpected(*error_);
    const std::size_t available = buffer_.size() - offset_;
    if (available < frame_header_bytes) return std::optional<Frame>();

    // The header is judged before waiting for the payload, so a hostile length or type is
    // refused at once rather than after the peer has made us buffer it.
    const char* header = buffer_.data() + offset_;
    const std::uint32_t length = get_u32_le(header);
    const auto type = static_cast<std::uint8_t>(header[4]);
    const auto flags = static_cast<std::uint8_t>(header[5]);
    const bool tagged = frames_ >= options_.untagged_frames;
    const std::size_t tag_bytes = tagged ? frame_tag_bytes : 0;
    if (length < tag_bytes) {
        failed_authentication_ = true;
        return fail("frame of " + std::to_string(length) + " bytes is too short for its " +
                    std::to_string(frame_tag_bytes) + "-byte authentication tag");
    }
    if (length - tag_bytes > options_.max_payload_bytes) {
        return fail("frame announces " + std::to_string(length - tag_bytes) +
                    " payload bytes, over the " + std::to_string(options_.max_payload_bytes) +
                    "-byte limit");
    }
    if (type == 0 || type > max_frame_type) {
        return fail("unknown frame type " + std::to_string(type));
    }
    if ((flags & ~frame_flag_compressed) != 0) {
        return fail("unknown frame flags " + std::to_string(flags));
    }
    if (available - frame_header_bytes < length) return std::optional<Frame>();

    // The tag is checked before anything else reads the payload: nothing of a forged frame
    // reaches the decompressor, let alone the protocol.
    const std::string_view wire(header + frame_header_bytes, length - tag_bytes);
    if (tagged) {
        if (!mac_) return fail("a tagged frame arrived before the link's keys were derived");
        const std::uint64_t sequence = frames_ - options_.untagged_frames;
        const auto* tag = reinterpret_cast<const std::uint8_t*>(wire.data() + wire.size());
        if (!mac_->verify(sequence, std::string_view(header, frame_header_bytes), wire, tag)) {
            failed_authentication_ = true;
            return fail(std::string(describe(static_cast<FrameType>(type))) + " frame " +
                        std::to_string(sequence) +
                        " failed authentication (altered, injected, replayed, out of order, or "
                        "tagged under another link's key)");
        }
    }
    Frame frame{static_cast<FrameType>(type), {}};
    if (flags & frame_flag_compressed) {
        const auto raw = read_varint(wire);
        if (!raw) return fail("compressed frame without a valid raw length");
        if (raw->value > options_.max_payload_bytes) {
            return fail("compressed frame announces " + std::to_string(raw->value) +
                        " raw bytes, over the " + std::to_string(options_.max_payload_bytes) +
                        "-byte limit");
        }
        auto done = decompressor_.decompress(wire.substr(raw->bytes),
                                             static_cast<std::size_t>(raw->value), frame.payload);
        if (!done) {
            return fail(std::string(describe(frame.type)) + " frame: " + done.error());
        }
    } else {
        frame.payload.assign(wire);
    }

    offset_ += frame_header_bytes + length;
    ++frames_;
    if (offset_ == buffer_.size()) {
        buffer_.clear();
        offset_ = 0;
    }
    ++stats_.frames;
    stats_.raw_bytes += frame_header_bytes + frame.payload.size() + tag_bytes;
    stats_.wire_bytes += frame_header_bytes + length;
    return std::optional<Frame>(std::move(frame));
}

}  // namespace meridian::replication
