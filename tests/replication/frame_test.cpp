#include "replication/frame.hpp"

#include <rapidcheck/catch.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdint>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using meridian::replication::describe;
using meridian::replication::Frame;
using meridian::replication::frame_flag_compressed;
using meridian::replication::frame_header_bytes;
using meridian::replication::frame_tag_bytes;
using meridian::replication::FrameDecoder;
using meridian::replication::FrameEncoder;
using meridian::replication::FrameKey;
using meridian::replication::FrameType;

namespace Catch {
template <>
struct StringMaker<Frame> {
    static std::string convert(const Frame& f) {
        std::ostringstream out;
        out << describe(f.type) << " frame, " << f.payload.size() << " bytes";
        if (f.payload.size() <= 40) out << " \"" << f.payload << '"';
        return out.str();
    }
};
}  // namespace Catch

#if defined(__SANITIZE_ADDRESS__)
#define MERIDIAN_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MERIDIAN_TEST_ASAN 1
#endif
#endif

#ifdef MERIDIAN_TEST_ASAN
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*,
                                                                             std::size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace {

constexpr FrameType all_types[] = {
    FrameType::hello,          FrameType::auth,
    FrameType::records,        FrameType::ack,
    FrameType::forward,        FrameType::forward_reply,
    FrameType::snapshot_chunk, FrameType::snapshot_done,
    FrameType::ping,           FrameType::rights_request,
    FrameType::rights_reply,
};

// The largest single allocation made while one is being watched; under AddressSanitizer only,
// whose allocator lets a test observe every malloc.
class LargestAllocation {
public:
    static bool available() {
#ifdef MERIDIAN_TEST_ASAN
        static const bool installed =
            __sanitizer_install_malloc_and_free_hooks(&on_malloc, &on_free) != 0;
        return installed;
#else
        return false;
#endif
    }
    LargestAllocation() {
        largest_ = 0;
        watching_ = true;
    }
    ~LargestAllocation() {
        watching_ = false;
    }
    std::size_t bytes() const {
        return largest_;
    }

private:
    static void on_malloc(const volatile void*, std::size_t size) {
        if (!watching_) return;
        std::size_t seen = largest_.load();
        while (size > seen && !largest_.compare_exchange_weak(seen, size)) {
        }
    }
    static void on_free(const volatile void*) {}

    static inline std::atomic<bool> watching_{false};
    static inline std::atomic<std::size_t> largest_{0};
};

std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::string s(n, '\0');
    for (auto& c : s) c = static_cast<char>(rng());
    return s;
}

// One replication batch as text: similar records, different keys and numbers.
std::string batch_like(std::mt19937_64& rng, int records) {
    static const char* const regions[] = {"us-east", "eu-west", "ap-south"};
    std::string s;
    for (int i = 0; i < records; ++i) {
        s += "{\"origin\":\"" + std::string(regions[rng() % 3]) +
             "\",\"seq\":" + std::to_string(100000 + rng() % 900000) +
             ",\"key\":\"session:" + std::to_string(rng() % 100000) +
             "\",\"type\":\"lww\",\"hlc\":" + std::to_string(1700000000000ull + rng() % 1000000) +
             ",\"value\":\"user-" + std::to_string(rng() % 5000) + "\"}\n";
    }
    return s;
}

std::string header(std::uint32_t length, std::uint8_t type, std::uint8_t flags) {
    std::string h(frame_header_bytes, '\0');
    for (int i = 0; i < 4; ++i) h[i] = static_cast<char>(length >> (8 * i));
    h[4] = static_cast<char>(type);
    h[5] = static_cast<char>(flags);
    return h;
}

std::string varint(std::uint64_t v) {
    std::string s;
    for (; v >= 0x80; v >>= 7) s.push_back(static_cast<char>((v & 0x7F) | 0x80));
    s.push_back(static_cast<char>(v));
    return s;
}

// A compressed frame with whatever raw length and block the test wants.
std::string compressed_frame(std::string_view raw_length, std::string_view block) {
    return header(static_cast<std::uint32_t>(raw_length.size() + block.size()), 3,
                  frame_flag_compressed) +
           std::string(raw_length) + std::string(block);
}

// The LZ4 block of a compressed frame, as a fresh encoder would send `payload` first.
std::string first_block(const std::string& payload) {
    FrameEncoder encoder;
    std::string wire;
    encoder.encode(FrameType::records, payload, wire);
    REQUIRE(static_cast<std::uint8_t>(wire[5]) == frame_flag_compressed);
    return wire.substr(frame_header_bytes + varint(payload.size()).size());
}

// Most tests here are about cutting and decompressing frames: their decoders expect no tags.
// Tagged frames have the tests at the end of this file.
constexpr FrameDecoder::Options untagged{.untagged_frames = SIZE_MAX};

// Every frame the decoder can complete now; fails the test on a decoding error.
std::vector<Frame> drain(FrameDecoder& decoder) {
    std::vector<Frame> frames;
    for (;;) {
        auto next = decoder.next();
        if (!next) FAIL("decoder failed: " << next.error());
        if (!*next) return frames;
        frames.push_back(std::move(**next));
    }
}

std::string decode_error(std::string_view wire, FrameDecoder::Options options = untagged) {
    FrameDecoder decoder(options);
    decoder.feed(wire);
    auto next = decoder.next();
    REQUIRE_FALSE(next.has_value());
    return next.error();
}

struct Encoded {
    std::vector<Frame> frames;
    std::string wire;
};

// A stream with every frame type, each once small and once large enough to compress, plus an
// empty payload and an incompressible one.
Encoded mixed_stream(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Encoded e;
    FrameEncoder encoder;
    auto add = [&](FrameType type, std::string payload) {
        encoder.encode(type, payload, e.wire);
        e.frames.push_back({type, std::move(payload)});
    };
    for (FrameType type : all_types) {
        add(type, "small " + std::to_string(rng() % 100));
        add(type, batch_like(rng, 2));
    }
    add(FrameType::ping, "");
    add(FrameType::records, random_bytes(rng, 300));
    return e;
}

}  // namespace

TEST_CASE("every frame type survives a round trip, compressed and not") {
    std::mt19937_64 rng(1);
    for (FrameType type : all_types) {
        INFO(describe(type));
        for (const std::string& payload : {std::string("ack 7"), batch_like(rng, 3)}) {
            FrameEncoder encoder;
            std::string wire;
            encoder.encode(type, payload, wire);
            const bool compressed = payload.size() >= 64;
            CHECK(static_cast<std::uint8_t>(wire[4]) == static_cast<std::uint8_t>(type));
            CHECK(static_cast<std::uint8_t>(wire[5]) == (compressed ? frame_flag_compressed : 0));
            CHECK((wire.size() < frame_header_bytes + payload.size()) == compressed);

            FrameDecoder decoder(untagged);
            decoder.feed(wire);
            const auto frames = drain(decoder);
            REQUIRE(frames.size() == 1);
            CHECK(frames[0] == Frame{type, payload});
        }
    }
}

TEST_CASE("the header is little-endian length, type, flags, appended after what out holds") {
    std::string wire = "kept";
    FrameEncoder encoder({.compress_threshold = 1000});
    encoder.encode(FrameType::ack, std::string(258, 'x'), wire);
    CHECK(wire.substr(0, 4) == "kept");
    CHECK(wire.substr(4, frame_header_bytes) == std::string("\x02\x01\x00\x00\x04\x00", 6));
    CHECK(wire.substr(4 + frame_header_bytes) == std::string(258, 'x'));
}

TEST_CASE("payloads below the threshold or that do not shrink are sent as they are") {
    std::mt19937_64 rng(2);
    FrameEncoder encoder({.compress_threshold = 100});
    std::string wire;
    const std::string just_below(99, 'a');
    encoder.encode(FrameType::records, just_below, wire);
    CHECK(static_cast<std::uint8_t>(wire[5]) == 0);
    CHECK(wire.size() == frame_header_bytes + 99);

    wire.clear();
    const std::string at_threshold(100, 'a');
    encoder.encode(FrameType::records, at_threshold, wire);
    CHECK(static_cast<std::uint8_t>(wire[5]) == frame_flag_compressed);

    wire.clear();
    const std::string noise = random_bytes(rng, 4000);
    encoder.encode(FrameType::records, noise, wire);
    CHECK(static_cast<std::uint8_t>(wire[5]) == 0);
    CHECK(wire.size() == frame_header_bytes + noise.size());
}

TEST_CASE("a stream split at every byte boundary decodes to the same frames") {
    const Encoded e = mixed_stream(3);
    for (std::size_t split = 0; split <= e.wire.size(); ++split) {
        INFO("split at byte " << split << " of " << e.wire.size());
        FrameDecoder decoder(untagged);
        decoder.feed(std::string_view(e.wire).substr(0, split));
        auto frames = drain(decoder);
        decoder.feed(std::string_view(e.wire).substr(split));
        for (auto& f : drain(decoder)) frames.push_back(std::move(f));
        REQUIRE(frames == e.frames);
    }
}

TEST_CASE("a stream fed one byte at a time decodes to the same frames") {
    const Encoded e = mixed_stream(4);
    FrameDecoder decoder(untagged);
    std::vector<Frame> frames;
    for (char c : e.wire) {
        decoder.feed(std::string_view(&c, 1));
        for (auto& f : drain(decoder)) frames.push_back(std::move(f));
    }
    CHECK(frames == e.frames);
}

TEST_CASE("encoder and decoder count the same frames and bytes") {
    const Encoded e = mixed_stream(5);
    FrameEncoder encoder;
    std::string wire;
    std::uint64_t raw = 0;
    for (const auto& f : e.frames) {
        encoder.encode(f.type, f.payload, wire);
        raw += frame_header_bytes + f.payload.size();
    }
    FrameDecoder decoder(untagged);
    decoder.feed(wire);
    CHECK(drain(decoder).size() == e.frames.size());
    CHECK(encoder.stats().frames == e.frames.size());
    CHECK(encoder.stats().raw_bytes == raw);
    CHECK(encoder.stats().wire_bytes == wire.size());
    CHECK(decoder.stats().frames == encoder.stats().frames);
    CHECK(decoder.stats().raw_bytes == encoder.stats().raw_bytes);
    CHECK(decoder.stats().wire_bytes == encoder.stats().wire_bytes);
    CHECK(encoder.stats().wire_bytes < encoder.stats().raw_bytes);
}

TEST_CASE("small similar batches compress far better with the earlier ones as dictionary") {
    std::mt19937_64 rng(6);
    FrameEncoder streaming;
    std::string stream_wire;
    std::uint64_t alone_wire = 0;
    std::vector<std::string> batches;
    for (int i = 0; i < 1000; ++i) batches.push_back(batch_like(rng, 3));
    for (const auto& batch : batches) {
        streaming.encode(FrameType::records, batch, stream_wire);
        FrameEncoder alone;  // no history: what each batch costs compressed on its own
        std::string one;
        alone.encode(FrameType::records, batch, one);
        alone_wire += one.size();
    }
    FrameDecoder decoder(untagged);
    decoder.feed(stream_wire);
    const auto frames = drain(decoder);
    REQUIRE(frames.size() == batches.size());
    for (std::size_t i = 0; i < frames.size(); ++i) REQUIRE(frames[i].payload == batches[i]);

    const double raw = static_cast<double>(streaming.stats().raw_bytes);
    const double stream_ratio = static_cast<double>(streaming.stats().wire_bytes) / raw;
    const double alone_ratio = static_cast<double>(alone_wire) / raw;
    WARN("1000 batches of 3 records, " << raw / 1000 << " bytes each: wire/raw " << stream_ratio
                                       << " with the stream dictionary, " << alone_ratio
                                       << " compressed one by one");
    CHECK(stream_ratio < 0.5);
    CHECK(stream_ratio < 0.75 * alone_ratio);
}

TEST_CASE("the dictionary stays in step over many frames of mixed sizes") {
    const std::uint64_t seed = GENERATE(21, 22);
    INFO("seed " << seed);
    std::mt19937_64 rng(seed);
    FrameEncoder encoder;
    FrameDecoder decoder(untagged);
    std::string wire;
    std::size_t compressed = 0;
    std::size_t sent_plain = 0;
    for (int i = 0; i < 2000; ++i) {
        INFO("frame " << i);
        std::string payload;
        switch (rng() % 8) {
            case 0:
                payload = random_bytes(rng, rng() % 3000);
                break;  // incompressible
            case 1:
                payload = batch_like(rng, 200 + rng() % 300);
                break;  // 40-100 KB
            case 2:
                payload = std::string(rng() % 64, 'p');
                break;  // below threshold
            default:
                payload = batch_like(rng, 1 + rng() % 5);
                break;
        }
        const std::size_t start = wire.size();
        encoder.encode(FrameType::records, payload, wire);
        (static_cast<std::uint8_t>(wire[start + 5]) ? compressed : sent_plain) += 1;
        // Deliver in uneven pieces, frames often straddling them.
        if (rng() % 3 == 0) {
            const std::size_t cut = rng() % (wire.size() + 1);
            decoder.feed(std::string_view(wire).substr(0, cut));
            auto got = drain(decoder);
            decoder.feed(std::string_view(wire).substr(cut));
            for (auto& f : drain(decoder)) got.push_back(std::move(f));
            wire.clear();
            REQUIRE_FALSE(got.empty());
            REQUIRE(got.back().payload == payload);
        }
    }
    decoder.feed(wire);
    drain(decoder);
    CHECK(decoder.stats().frames == 2000);
    CHECK(decoder.stats().raw_bytes == encoder.stats().raw_bytes);
    CHECK(compressed > 500);
    CHECK(sent_plain > 200);
}

TEST_CASE("the allocation watcher sees allocations when sanitizers provide it") {
    if (!LargestAllocation::available()) return;  // then the checks below rely on it not at all
    LargestAllocation largest;
    const std::string big(1 << 20, 'x');
    CHECK(largest.bytes() > big.size());
}

TEST_CASE("an oversized length is refused from the header alone, before any allocation") {
    const bool watched = LargestAllocation::available();
    for (std::uint32_t length : {std::uint32_t{1025}, std::uint32_t{0xFFFFFFFF}}) {
        INFO("announced length " << length);
        FrameDecoder decoder({.max_payload_bytes = 1024});
        decoder.feed(header(length, 3, 0));
        LargestAllocation largest;
        const auto next = decoder.next();
        REQUIRE_FALSE(next.has_value());
        CHECK(next.error().find("limit") != std::string::npos);
        if (watched) CHECK(largest.bytes() < 4096);
    }
    // Exactly at the limit is fine, and waits for its payload.
    FrameDecoder decoder({.max_payload_bytes = 1024});
    decoder.feed(header(1024, 3, 0));
    const auto next = decoder.next();
    REQUIRE(next.has_value());
    CHECK_FALSE(next->has_value());
    decoder.feed(std::string(1024, 'z'));
    CHECK(drain(decoder) == std::vector<Frame>{{FrameType::records, std::string(1024, 'z')}});
}

TEST_CASE("a default decoder refuses a 4 GiB frame without buffering it") {
    const bool watched = LargestAllocation::available();
    FrameDecoder decoder(untagged);
    decoder.feed(header(0xFFFFFFFF, 7, 0) + "first bytes of the payload");
    LargestAllocation largest;
    CHECK_FALSE(decoder.next().has_value());
    if (watched) CHECK(largest.bytes() < 4096);
}

TEST_CASE("unknown frame types and flags are refused from the header") {
    for (std::uint8_t type : {0, 13, 100, 255}) {
        INFO("type " << int{type});
        CHECK(decode_error(header(0, type, 0)).find("unknown frame type") != std::string::npos);
    }
    for (std::uint8_t flags : {2, 3, 0x80, 0xFF}) {
        INFO("flags " << int{flags});
        CHECK(decode_error(header(10, 3, flags)).find("unknown frame flags") != std::string::npos);
    }
}

TEST_CASE("after an error the decoder stays failed") {
    std::string wire = header(0, 99, 0);
    FrameEncoder encoder;
    encoder.encode(FrameType::ping, "still here?", wire);
    FrameDecoder decoder(untagged);
    decoder.feed(wire);
    const auto first = decoder.next();
    REQUIRE_FALSE(first.has_value());
    decoder.feed(wire);
    for (int i = 0; i < 3; ++i) {
        const auto again = decoder.next();
        REQUIRE_FALSE(again.has_value());
        CHECK(again.error() == first.error());
    }
}

TEST_CASE("a truncated compressed payload is refused at every length") {
    std::mt19937_64 rng(7);
    const std::string payload = batch_like(rng, 4);
    const std::string block = first_block(payload);
    for (std::size_t keep = 0; keep < block.size(); ++keep) {
        INFO("block cut to " << keep << " of " << block.size() << " bytes");
        decode_error(compressed_frame(varint(payload.size()), block.substr(0, keep)));
    }
    // The complete block, framed the same way, decodes: the cuts are what failed.
    FrameDecoder decoder(untagged);
    decoder.feed(compressed_frame(varint(payload.size()), block));
    CHECK(drain(decoder) == std::vector<Frame>{{FrameType::records, payload}});
}

TEST_CASE("garbage in a compressed payload is refused") {
    // No literals, then a match 65535 bytes back, with nothing decoded yet.
    CHECK(decode_error(compressed_frame(varint(4), std::string("\x00\xff\xff", 3)))
              .find("malformed") != std::string::npos);
    // A literal run longer than the block.
    decode_error(compressed_frame(varint(15), std::string("\xf0\x00"
                                                          "abc",
                                                          5)));
    // Only the raw length, no block at all.
    decode_error(compressed_frame(varint(10), ""));
    rc::prop("random blocks never decode to anything but the announced size",
             [](const std::string& block, std::uint16_t raw_size) {
                 FrameDecoder decoder(untagged);
                 decoder.feed(compressed_frame(varint(raw_size), block));
                 const auto next = decoder.next();
                 if (next) {
                     RC_ASSERT(next->has_value());
                     RC_ASSERT((*next)->payload.size() == raw_size);
                 }
             });
}

TEST_CASE("a compressed payload whose raw length lies is refused") {
    std::mt19937_64 rng(8);
    const std::string payload = batch_like(rng, 4);
    const std::string block = first_block(payload);
    const std::size_t n = payload.size();
    for (std::size_t claimed : {n - 1, n + 1, std::size_t{0}, n / 2, 2 * n}) {
        INFO("claimed raw length " << claimed << ", true " << n);
        decode_error(compressed_frame(varint(claimed), block));
    }
    INFO("a raw length over the limit");
    CHECK(decode_error(compressed_frame(varint(std::uint64_t{1} << 40), block)).find("limit") !=
          std::string::npos);
    INFO("a raw length longer than a 64-bit varint");
    CHECK(decode_error(compressed_frame(std::string(11, '\x80') + '\x01', block))
              .find("raw length") != std::string::npos);
    INFO("a raw length cut off by the end of the payload");
    CHECK(decode_error(compressed_frame("\x80\x80", "")).find("raw length") != std::string::npos);
}

TEST_CASE("a huge raw length on a tiny block is refused before allocating it") {
    const bool watched = LargestAllocation::available();
    const std::string block = first_block(std::string(100, 'q'));
    FrameDecoder decoder(untagged);  // a 256 MiB limit: 200 MiB is allowed by the limit alone
    decoder.feed(compressed_frame(varint(200u << 20), block));
    LargestAllocation largest;
    const auto next = decoder.next();
    REQUIRE_FALSE(next.has_value());
    CHECK(next.error().find("more than an LZ4 block") != std::string::npos);
    if (watched) CHECK(largest.bytes() < (1u << 20));
}

TEST_CASE("a decompressed size over the decoder's limit is refused") {
    FrameEncoder encoder;
    std::string wire;
    encoder.encode(FrameType::snapshot_chunk, std::string(4000, 'a'), wire);
    REQUIRE(wire.size() < 1000);
    const std::string error = decode_error(wire, {.max_payload_bytes = 1000});
    CHECK(error.find("4000 raw bytes") != std::string::npos);
}

TEST_CASE("random tagged frames survive encoding, random chunking and decoding") {
    rc::prop("any frames, any threshold, any chunk sizes", [] {
        const auto threshold = *rc::gen::inRange<std::size_t>(0, 200);
        const auto count = *rc::gen::inRange(1, 30);
        std::vector<Frame> frames;
        for (int i = 0; i < count; ++i) {
            const auto type = static_cast<FrameType>(*rc::gen::inRange(1, 12));
            std::string payload;
            if (*rc::gen::arbitrary<bool>()) {
                payload = *rc::gen::arbitrary<std::string>();
            } else {  // compressible: a short random piece, repeated
                const auto piece = *rc::gen::nonEmpty(rc::gen::arbitrary<std::string>());
                const auto times = *rc::gen::inRange(1, 200);
                for (int t = 0; t < times; ++t) payload += piece;
            }
            frames.push_back({type, std::move(payload)});
        }
        const auto chunks = *rc::gen::nonEmpty(
            rc::gen::container<std::vector<std::size_t>>(rc::gen::inRange<std::size_t>(1, 300)));

        // Tagged, as on a peer link once the handshake is done.
        const FrameKey key{static_cast<std::uint8_t>(threshold), 7};
        FrameEncoder encoder({.compress_threshold = threshold});
        encoder.authenticate(key);
        std::string wire;
        for (const auto& f : frames) encoder.encode(f.type, f.payload, wire);

        FrameDecoder decoder({.untagged_frames = 0});
        decoder.authenticate(key);
        std::vector<Frame> decoded;
        std::size_t pos = 0;
        for (std::size_t i = 0; pos < wire.size(); ++i) {
            const std::size_t n = std::min(chunks[i % chunks.size()], wire.size() - pos);
            decoder.feed(std::string_view(wire).substr(pos, n));
            pos += n;
            for (;;) {
                auto next = decoder.next();
                RC_ASSERT(next.has_value());
                if (!*next) break;
                decoded.push_back(std::move(**next));
            }
        }
        RC_ASSERT(decoded.size() == frames.size());
        for (std::size_t i = 0; i < frames.size(); ++i) {
            RC_ASSERT(decoded[i].type == frames[i].type);
            RC_ASSERT(decoded[i].payload == frames[i].payload);
        }
        RC_ASSERT(decoder.stats().wire_bytes == wire.size());
    });
}

// ---- tagged frames (frame_mac.hpp) ------------------------------------------------------------

namespace {

const FrameKey link_key{1, 2, 3, 4, 5, 6, 7, 8};

// A peer's direction of a link: its Hello untagged, then `count` tagged records frames, every
// other one large enough to be compressed. `frames` gets each frame's bytes on their own.
std::string tagged_stream(int count, std::vector<std::string>* frames = nullptr,
                          const FrameKey& key = link_key) {
    FrameEncoder encoder;
    std::string wire;
    encoder.encode(FrameType::hello, "hello", wire);
    if (frames) frames->push_back(wire);
    encoder.authenticate(key);
    std::mt19937_64 rng(42);
    for (int i = 0; i < count; ++i) {
        std::string frame;
        encoder.encode(FrameType::records,
                       i % 2 ? batch_like(rng, 20) : "batch " + std::to_string(i), frame);
        if (frames) frames->push_back(frame);
        wire += frame;
    }
    return wire;
}

struct Decoded {
    std::vector<Frame> frames;
    std::optional<std::string> error;
    bool failed_authentication = false;
};

// Decodes `wire` as a link does: the Hello, then the receive key, then the rest.
Decoded decode_link(std::string_view wire, const FrameKey& key = link_key) {
    FrameDecoder decoder;
    decoder.feed(wire);
    Decoded out;
    for (;;) {
        auto next = decoder.next();
        if (!next) {
            out.error = next.error();
            out.failed_authentication = decoder.failed_authentication();
            return out;
        }
        if (!*next) return out;
        if ((*next)->type == FrameType::hello) decoder.authenticate(key);
        out.frames.push_back(std::move(**next));
    }
}

}  // namespace

TEST_CASE("a tagged stream after an untagged Hello decodes to the same frames") {
    std::vector<std::string> frames;
    const std::string wire = tagged_stream(6, &frames);
    const Decoded decoded = decode_link(wire);
    REQUIRE_FALSE(decoded.error);
    REQUIRE(decoded.frames.size() == 7);
    CHECK(decoded.frames[0] == Frame{FrameType::hello, "hello"});
    CHECK(decoded.frames[1] == Frame{FrameType::records, "batch 0"});
    CHECK(decoded.frames[3] == Frame{FrameType::records, "batch 2"});
    // The tag is counted in the header's length: 16 bytes more than the payload as sent.
    CHECK(frames[1].size() == frame_header_bytes + std::string("batch 0").size() + frame_tag_bytes);
}

TEST_CASE("a byte flipped anywhere after the length of a tagged frame is refused") {
    std::vector<std::string> frames;
    tagged_stream(2, &frames);
    for (std::size_t f = 1; f < frames.size(); ++f) {
        for (std::size_t at = 4; at < frames[f].size(); ++at) {
            std::string wire;
            for (std::size_t i = 0; i < frames.size(); ++i) wire += frames[i];
            std::size_t offset = at;
            for (std::size_t i = 0; i < f; ++i) offset += frames[i].size();
            wire[offset] = static_cast<char>(wire[offset] ^ 0x20);
            const Decoded decoded = decode_link(wire);
            INFO("frame " << f << ", byte " << at << " of " << frames[f].size());
            REQUIRE(decoded.error);
            CHECK(decoded.frames.size() == f);  // nothing from the altered frame on
            // The type and flags bytes may be refused as unknown first; every other byte is
            // caught by the tag.
            if (at >= frame_header_bytes) CHECK(decoded.failed_authentication);
        }
    }
}

TEST_CASE("a replayed, reordered or dropped tagged frame is refused") {
    std::vector<std::string> f;
    tagged_stream(3, &f);
    SECTION("replayed") {
        const Decoded decoded = decode_link(f[0] + f[1] + f[2] + f[1]);
        CHECK(decoded.frames.size() == 3);
        CHECK(decoded.failed_authentication);
    }
    SECTION("reordered") {
        const Decoded decoded = decode_link(f[0] + f[2] + f[1]);
        CHECK(decoded.frames.size() == 1);
        CHECK(decoded.failed_authentication);
    }
    SECTION("dropped") {
        const Decoded decoded = decode_link(f[0] + f[1] + f[3]);
        CHECK(decoded.frames.size() == 2);
        CHECK(decoded.failed_authentication);
        REQUIRE(decoded.error);
        CHECK(decoded.error->find("failed authentication") != std::string::npos);
    }
}

TEST_CASE("a frame tagged under another link's key is refused") {
    std::vector<std::string> ours, theirs;
    tagged_stream(2, &ours);
    tagged_stream(2, &theirs, FrameKey{9});
    const Decoded decoded = decode_link(ours[0] + ours[1] + theirs[2]);
    CHECK(decoded.frames.size() == 2);
    CHECK(decoded.failed_authentication);
}

TEST_CASE("untagged frames where tags are due are refused, whatever they claim") {
    FrameEncoder plain;  // a peer that never authenticated
    std::string wire;
    plain.encode(FrameType::hello, "hello", wire);
    SECTION("a frame long enough to hold a tag") {
        plain.encode(FrameType::ack, std::string(40, 'a'), wire);
        const Decoded decoded = decode_link(wire);
        CHECK(decoded.frames.size() == 1);
        CHECK(decoded.failed_authentication);
    }
    SECTION("a frame too short to hold one") {
        plain.encode(FrameType::ping, "", wire);
        const Decoded decoded = decode_link(wire);
        CHECK(decoded.frames.size() == 1);
        CHECK(decoded.failed_authentication);
    }
}

TEST_CASE("a tagged frame before the keys were given is refused, not delivered") {
    FrameDecoder decoder;
    decoder.feed(tagged_stream(1));
    REQUIRE(decoder.next().has_value());  // the Hello
    const auto next = decoder.next();
    REQUIRE_FALSE(next.has_value());
    CHECK(next.error().find("before the link's keys") != std::string::npos);
    CHECK_FALSE(decoder.failed_authentication());
}
