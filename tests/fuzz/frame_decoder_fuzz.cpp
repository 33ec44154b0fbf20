// libFuzzer harness for the peer frame decoder: whatever a peer sends, the decoder returns frames
// or an error, and never crashes, reads out of bounds or allocates without bound.
//
// Two variants from this one file:
//   default: the input is the byte stream from a peer, fed in chunks;
//   -DMERIDIAN_FUZZ_COMPRESSED: the input becomes the payload (varint raw length, LZ4 block) of a
//   compressed frame, sent between two valid compressed frames, so it meets the decompressor
//   with a dictionary behind it and the valid frame after it meets whatever history it left.
//
// Not built by CMake. Build and run, from the repository root:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//       tests/fuzz/frame_decoder_fuzz.cpp replication/frame.cpp replication/lz4_stream.cpp \
//       -llz4 -lcrypto -o frame_decoder_fuzz
//   ./frame_decoder_fuzz -max_total_time=60
// (add -DMERIDIAN_FUZZ_COMPRESSED and -o frame_decoder_compressed_fuzz for the second variant).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "replication/frame.hpp"

namespace {

using meridian::replication::FrameDecoder;
using meridian::replication::FrameEncoder;
using meridian::replication::FrameType;

constexpr std::size_t max_payload = 1 << 20;

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

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FrameDecoder decoder({.max_payload_bytes = max_payload});
    const std::string_view input(reinterpret_cast<const char*>(data), size);
#ifndef MERIDIAN_FUZZ_COMPRESSED
    if (input.empty()) return 0;
    // The first byte picks the chunk size, so frames also arrive split across feeds.
    const std::size_t chunk = static_cast<std::uint8_t>(input[0]) % 64 + 1;
    for (std::size_t pos = 1; pos < input.size(); pos += chunk) {
        decoder.feed(input.substr(pos, chunk));
        if (!drain(decoder)) return 0;
    }
#else
    FrameEncoder encoder({.max_payload_bytes = max_payload});
    const std::string history =
        "{\"origin\":\"eu-west\",\"seq\":1234,\"key\":\"session:42\",\"value\":\"user-7\"}\n"
        "{\"origin\":\"us-east\",\"seq\":1235,\"key\":\"session:43\",\"value\":\"user-8\"}\n";
    std::string wire;
    encoder.encode(FrameType::records, history, wire);

    const auto length = static_cast<std::uint32_t>(input.size());
    for (int i = 0; i < 4; ++i) wire.push_back(static_cast<char>(length >> (8 * i)));
    wire.push_back(static_cast<char>(FrameType::records));
    wire.push_back('\x01');  // compressed
    wire.append(input);

    encoder.encode(FrameType::records, history, wire);
    decoder.feed(wire);
    drain(decoder);
#endif
    return 0;
}
