// libFuzzer harness for the peer frame decoder: whatever a peer sends, the decoder returns frames
// or an error, and never crashes, reads out of bounds or allocates without bound.
//
// Two variants from this one file:
//   default: the first input byte picks a chunk size and a mode. Raw mode feeds the rest as the
//   byte stream from a peer, to a decoder holding the link's receive key as after a handshake
//   (so the fuzzer mostly meets the tag check). Sealed mode reads the rest as frames
//   `u8 type | u8 flags | u16 length | body` and sends the first as the untagged Hello and every
//   later one with a valid tag, so what lies behind the tag check (the header rules, the
//   decompressor) is fuzzed as a peer that knows the secret could reach it.
//   -DMERIDIAN_FUZZ_COMPRESSED: the input becomes the payload (varint raw length, LZ4 block) of a
//   tagged compressed frame, sent between two valid compressed frames, so it meets the
//   decompressor with a dictionary behind it and the valid frame after it meets whatever history
//   it left.
//
// Built by tests/fuzz/CMakeLists.txt (MERIDIAN_FUZZ=ON, clang); scripts/fuzz.sh runs it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "replication/frame.hpp"
#include "replication/frame_mac.hpp"

namespace {

using meridian::replication::frame_header_bytes;
using meridian::replication::frame_tag_bytes;
using meridian::replication::FrameDecoder;
using meridian::replication::FrameEncoder;
using meridian::replication::FrameKey;
using meridian::replication::FrameMac;
using meridian::replication::FrameType;

constexpr std::size_t max_payload = 1 << 20;
const FrameKey link_key{0x6d, 0x65, 0x72, 0x69, 0x64, 0x69, 0x61, 0x6e};

// Takes every frame the decoder can complete; false once it has failed.
bool drain(FrameDecoder& decoder) {
    for (;;) {
        auto next = decoder.next();
        if (!next) return false;
        if (!*next) return true;
        // The limit holds for whatever got through.
        if ((*next)->payload.size() > max_payload) std::abort();
    }
}

std::string header(std::size_t length, std::uint8_t type, std::uint8_t flags) {
    std::string h;
    for (int i = 0; i < 4; ++i) h.push_back(static_cast<char>(length >> (8 * i)));
    h.push_back(static_cast<char>(type));
    h.push_back(static_cast<char>(flags));
    return h;
}

// Appends header + body + the tag of frame `sequence` (or no tag for the Hello) to `wire`.
void append_sealed(FrameMac* mac, std::uint64_t sequence, std::uint8_t type, std::uint8_t flags,
                   std::string_view body, std::string& wire) {
    const std::string h = header(body.size() + (mac ? frame_tag_bytes : 0), type, flags);
    wire += h;
    wire += body;
    if (!mac) return;
    std::uint8_t tag[frame_tag_bytes];
    mac->tag(sequence, h, body, tag);
    wire.append(reinterpret_cast<const char*>(tag), frame_tag_bytes);
}

#ifndef MERIDIAN_FUZZ_COMPRESSED
// The sealed mode's stream: `u8 type | u8 flags | u16 length | body` records, the last one cut
// short by the end of the input if need be.
std::string seal(std::string_view input) {
    FrameMac mac(link_key);
    std::string wire;
    std::uint64_t frames = 0;
    while (input.size() >= 4) {
        const auto type = static_cast<std::uint8_t>(input[0]);
        const auto flags = static_cast<std::uint8_t>(input[1]);
        const std::size_t length = static_cast<std::uint8_t>(input[2]) |
                                   std::size_t{static_cast<std::uint8_t>(input[3])} << 8;
        const std::string_view body = input.substr(4, length);
        append_sealed(frames == 0 ? nullptr : &mac, frames - 1, type, flags, body, wire);
        ++frames;
        input.remove_prefix(4 + body.size());
    }
    return wire;
}
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
#ifndef MERIDIAN_FUZZ_COMPRESSED
    if (input.empty()) return 0;
    FrameDecoder decoder({.max_payload_bytes = max_payload});
    decoder.authenticate(link_key);
    // The first byte picks the chunk size, so frames also arrive split across feeds, and the mode.
    const auto control = static_cast<std::uint8_t>(input[0]);
    const std::size_t chunk = control % 64 + 1;
    const std::string sealed = control & 0x40 ? seal(input.substr(1)) : std::string();
    const std::string_view stream = control & 0x40 ? std::string_view(sealed) : input.substr(1);
    for (std::size_t pos = 0; pos < stream.size(); pos += chunk) {
        decoder.feed(stream.substr(pos, chunk));
        if (!drain(decoder)) return 0;
    }
#else
    // Every frame tagged, as on an established link; the harness tags the fuzzed one itself.
    FrameDecoder decoder({.max_payload_bytes = max_payload, .untagged_frames = 0});
    decoder.authenticate(link_key);
    FrameEncoder encoder({.max_payload_bytes = max_payload});
    encoder.authenticate(link_key);
    FrameMac mac(link_key);
    const std::string history =
        "{\"origin\":\"eu-west\",\"seq\":1234,\"key\":\"session:42\",\"value\":\"user-7\"}\n"
        "{\"origin\":\"us-east\",\"seq\":1235,\"key\":\"session:43\",\"value\":\"user-8\"}\n";
    std::string wire;
    encoder.encode(FrameType::records, history, wire);  // frame 0
    append_sealed(&mac, 1, static_cast<std::uint8_t>(FrameType::records), 0x01, input, wire);

    // Frame 2: compressed against the history the encoder knows, tagged as the third frame.
    std::string last;
    encoder.encode(FrameType::records, history, last);
    const std::string_view body = std::string_view(last).substr(
        frame_header_bytes, last.size() - frame_header_bytes - frame_tag_bytes);
    append_sealed(&mac, 2, static_cast<std::uint8_t>(last[4]), static_cast<std::uint8_t>(last[5]),
                  body, wire);
    decoder.feed(wire);
    drain(decoder);
#endif
    return 0;
}
