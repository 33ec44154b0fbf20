// Stateful LZ4 block compression for one direction of a peer link: each block may refer back
// into the last 64 KiB of earlier blocks, so small, similar batches compress far better than
// alone. Both ends must see the same blocks in the same order. Not thread-safe: one per
// connection direction, used by whichever thread drives that direction.
//
// Memory, allocated on first use: StreamCompressor about 384 KiB (a 128 KiB history buffer and
// a 256 KiB LZ4HC state; another 256 KiB once an input was refused, to undo attempts),
// StreamDecompressor 128 KiB of history. A link that never compresses
// costs nothing beyond the objects themselves.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "crdt/expected.hpp"

union LZ4_streamHC_u;  // lz4hc.h's LZ4_streamHC_t, kept out of this header

namespace meridian::replication {

// How far back a block may refer: LZ4's largest match offset.
inline constexpr std::size_t lz4_window_bytes = 64 * 1024;

// The compressor is LZ4HC at this level (LZ4HC_CLEVEL_MIN), not LZ4's fast mode: the same
// block format, so the decompressor is unchanged, with a longer search for matches. On a stream
// of SET batches (random 16-byte values) it ships 12% fewer bytes than the fast mode, at about a
// tenth of its speed (~70 MB/s, a fraction of a microsecond per replicated write).
inline constexpr int lz4hc_level = 3;

class StreamCompressor {
public:
    StreamCompressor();
    ~StreamCompressor();
    StreamCompressor(StreamCompressor&&) noexcept;
    StreamCompressor& operator=(StreamCompressor&&) noexcept;

    // Appends the block for `input` to `out` and adds `input` to the history, provided the block
    // takes at most `max_block_bytes`. Otherwise (incompressible input, or input beyond what LZ4
    // accepts) returns false and leaves `out` and the history untouched, so the peer's
    // decompressor, which never sees this input, stays in step.
    bool compress(std::string_view input, std::size_t max_block_bytes, std::string& out);

private:
    void allocate();

    // history_[0, history_len_) is the compressor's dictionary, a suffix of everything compressed
    // so far. Small inputs are copied in behind it so LZ4 sees one contiguous prefix; when full,
    // LZ4_saveDict slides the last 64 KiB to the front.
    std::unique_ptr<char[]> history_;
    std::size_t history_len_ = 0;
    std::unique_ptr<LZ4_streamHC_u> stream_;
    // LZ4 cannot forget an input, and after a failed call its state is undefined: a refused
    // attempt restores this copy of stream_ taken before it, or, when refusals are rare and the
    // copy was skipped, rebuilds stream_ from the history.
    std::unique_ptr<LZ4_streamHC_u> saved_;
    unsigned attempts_since_refusal_ = ~0u;
};

class StreamDecompressor {
public:
    StreamDecompressor();
    ~StreamDecompressor();
    StreamDecompressor(StreamDecompressor&&) noexcept;
    StreamDecompressor& operator=(StreamDecompressor&&) noexcept;

    // Decodes one block into `out` (replacing its contents), which must come to exactly
    // `raw_size` bytes; on success the output joins the history. Malformed blocks, sizes LZ4
    // cannot produce from a block this short, and size mismatches are errors; the decoder never
    // reads or writes out of bounds on any input, and nothing is allocated for an impossible size.
    Expected<void, std::string> decompress(std::string_view block, std::size_t raw_size,
                                           std::string& out);

    // The largest output an LZ4 block of `block_bytes` can decode to (each input byte yields
    // at most 255 output bytes, plus a few bytes of slack for the final literals).
    static std::size_t max_expansion(std::size_t block_bytes);

private:
    void remember(std::string_view output);

    // The last (up to) 64 KiB of decompressed output, at history_[history_begin_, history_end_).
    std::unique_ptr<char[]> history_;
    std::size_t history_begin_ = 0;
    std::size_t history_end_ = 0;
};

}  // namespace meridian::replication
