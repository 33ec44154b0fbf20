#include "replication/lz4_stream.hpp"

#include <lz4.h>
#include <lz4hc.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace meridian::replication {

namespace {

// Room for a full window of history plus a window of new input behind it, so inputs below
// 64 KiB can always be appended contiguously after at most one slide.
constexpr std::size_t history_capacity = 2 * lz4_window_bytes;

// How many attempts after a refusal keep paying for a state copy (see compress()).
constexpr unsigned snapshot_after_refusal = 64;

}  // namespace

StreamCompressor::StreamCompressor() = default;
StreamCompressor::~StreamCompressor() = default;
StreamCompressor::StreamCompressor(StreamCompressor&&) noexcept = default;
StreamCompressor& StreamCompressor::operator=(StreamCompressor&&) noexcept = default;

void StreamCompressor::allocate() {
    history_ = std::make_unique<char[]>(history_capacity);
    stream_ = std::make_unique<LZ4_streamHC_t>();
    LZ4_initStreamHC(stream_.get(), sizeof(LZ4_streamHC_t));
    LZ4_resetStreamHC_fast(stream_.get(), lz4hc_level);
}

bool StreamCompressor::compress(std::string_view input, std::size_t max_block_bytes,
                                std::string& out) {
    if (input.size() > LZ4_MAX_INPUT_SIZE || max_block_bytes == 0) return false;
    if (!stream_) allocate();

    // Small inputs are copied behind the history so LZ4 compresses them as a continuation of one
    // buffer; large ones already hold a full window themselves and are compressed in place.
    const bool copy_in = input.size() < lz4_window_bytes;
    if (copy_in && history_len_ + input.size() > history_capacity) {
        history_len_ = static_cast<std::size_t>(
            LZ4_saveDictHC(stream_.get(), history_.get(), static_cast<int>(lz4_window_bytes)));
    }
    const char* source = input.data();
    if (copy_in) {
        if (!input.empty()) std::memcpy(history_.get() + history_len_, input.data(), input.size());
        source = history_.get() + history_len_;
    }

    // Undoing an attempt: copying LZ4HC's 256 KiB state up front costs about as much as
    // compressing a small batch, rebuilding it from the history afterwards far more. So
    // copy only while refusals are recent, and otherwise rebuild on the rare refusal.
    const bool snapshot = attempts_since_refusal_ < snapshot_after_refusal;
    if (snapshot && !saved_) saved_ = std::make_unique<LZ4_streamHC_t>();  // after a refusal only
    if (snapshot) std::memcpy(saved_.get(), stream_.get(), sizeof(LZ4_streamHC_t));
    const std::size_t capacity =
        std::min(max_block_bytes,
                 static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(input.size()))));
    const std::size_t start = out.size();
    out.resize(start + capacity);
    const int written =
        LZ4_compress_HC_continue(stream_.get(), source, out.data() + start,
                                 static_cast<int>(input.size()), static_cast<int>(capacity));
    if (written <= 0) {
        if (snapshot) {
            std::memcpy(stream_.get(), saved_.get(), sizeof(LZ4_streamHC_t));
        } else {
            // Leaves the dictionary ending at history_ + history_len_, as after a success.
            LZ4_loadDictHC(stream_.get(), history_.get(), static_cast<int>(history_len_));
        }
        attempts_since_refusal_ = 0;
        out.resize(start);
        return false;
    }
    if (attempts_since_refusal_ < snapshot_after_refusal) ++attempts_since_refusal_;
    out.resize(start + static_cast<std::size_t>(written));

    if (copy_in) {
        history_len_ += input.size();
    } else {
        // The caller's buffer goes away: keep its last window as the dictionary.
        history_len_ = static_cast<std::size_t>(
            LZ4_saveDictHC(stream_.get(), history_.get(), static_cast<int>(lz4_window_bytes)));
    }
    return true;
}

StreamDecompressor::StreamDecompressor() = default;
StreamDecompressor::~StreamDecompressor() = default;
StreamDecompressor::StreamDecompressor(StreamDecompressor&&) noexcept = default;
StreamDecompressor& StreamDecompressor::operator=(StreamDecompressor&&) noexcept = default;

std::size_t StreamDecompressor::max_expansion(std::size_t block_bytes) {
    return block_bytes * 255 + 16;
}

Expected<void, std::string> StreamDecompressor::decompress(std::string_view block,
                                                           std::size_t raw_size, std::string& out) {
    out.clear();
    if (block.empty()) return unexpected(std::string("empty LZ4 block"));
    if (block.size() > static_cast<std::size_t>(INT_MAX) ||
        raw_size > static_cast<std::size_t>(INT_MAX)) {
        return unexpected(std::string("LZ4 block or raw size too large"));
    }
    if (raw_size > max_expansion(block.size())) {
        return unexpected("raw size " + std::to_string(raw_size) +
                          " is more than an LZ4 block of " + std::to_string(block.size()) +
                          " bytes can hold");
    }
    if (!history_) history_ = std::make_unique<char[]>(history_capacity);

    out.resize(raw_size);
    const int produced = LZ4_decompress_safe_usingDict(
        block.data(), out.data(), static_cast<int>(block.size()), static_cast<int>(raw_size),
        history_.get() + history_begin_, static_cast<int>(history_end_ - history_begin_));
    if (produced < 0) {
        out.clear();
        return unexpected(std::string("malformed LZ4 block"));
    }
    if (static_cast<std::size_t>(produced) != raw_size) {
        out.clear();
        return unexpected("LZ4 block decodes to " + std::to_string(produced) +
                          " bytes, not the announced " + std::to_string(raw_size));
    }
    remember(out);
    return {};
}

void StreamDecompressor::remember(std::string_view output) {
    if (output.size() >= lz4_window_bytes) {
        std::memcpy(history_.get(), output.data() + output.size() - lz4_window_bytes,
                    lz4_window_bytes);
        history_begin_ = 0;
        history_end_ = lz4_window_bytes;
        return;
    }
    if (history_end_ + output.size() > history_capacity) {
        // Slide what will still be inside the window to the front; amortised over the window of
        // input that filled the buffer since the last slide.
        const std::size_t keep =
            std::min(history_end_ - history_begin_, lz4_window_bytes - output.size());
        std::memmove(history_.get(), history_.get() + history_end_ - keep, keep);
        history_begin_ = 0;
        history_end_ = keep;
    }
    if (!output.empty()) std::memcpy(history_.get() + history_end_, output.data(), output.size());
    history_end_ += output.size();
    history_begin_ =
        std::max(history_begin_, history_end_ - std::min(history_end_, lz4_window_bytes));
}

}  // namespace meridian::replication
