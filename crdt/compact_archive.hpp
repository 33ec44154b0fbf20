// A cereal archive pair for the wire and the disk: integers as LEB128 varints
// (zig-zag for signed ones), every container length checked against the bytes
// that remain before anything is allocated, so a corrupt or hostile length is
// a DecodeError, never a huge allocation. Field names are not written.
//
// Single-threaded: one archive per encode or decode call.
#pragma once

#include <cereal/cereal.hpp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>

namespace meridian::crdt {

namespace detail {

// `value - base` modulo 2^64, read as signed and zig-zag encoded (small either way), and back:
// every pair of 64-bit values round-trips, so a corrupt difference decodes to some clock.
constexpr std::uint64_t zigzag_difference(std::uint64_t value, std::uint64_t base) {
    const std::uint64_t d = value - base;
    return (d << 1) ^ (0 - (d >> 63));
}
constexpr std::uint64_t add_zigzag_difference(std::uint64_t base, std::uint64_t zigzag) {
    return base + ((zigzag >> 1) ^ (0 - (zigzag & 1)));
}

template <class T>
constexpr bool is_varint = std::is_integral_v<T> && !std::is_same_v<T, bool> && (sizeof(T) > 1);

}  // namespace detail

// What a decoder throws on malformed input; caught at the decode boundary
// (see decode() in serialization.hpp) and turned into an error value.
class DecodeError : public cereal::Exception {
public:
    using cereal::Exception::Exception;
};

class CompactOutputArchive
    : public cereal::OutputArchive<CompactOutputArchive, cereal::AllowEmptyClassElision> {
public:
    explicit CompactOutputArchive(std::string& out) : OutputArchive(this), out_(out) {}

    void write_byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
    void write_bytes(const void* data, std::size_t size) {
        out_.append(static_cast<const char*>(data), size);
    }
    void write_varint(std::uint64_t v) {
        while (v >= 0x80) {
            write_byte(static_cast<std::uint8_t>(v) | 0x80);
            v >>= 7;
        }
        write_byte(static_cast<std::uint8_t>(v));
    }

    // From now on each clock (a packed HLC) is written as the zig-zag difference from the clock
    // written before it. A batch's stamps lie milliseconds apart, so each takes 1-3 bytes
    // instead of 9 (LZ4 recovers only part of that from the repeated high bytes). The reader
    // must call chain_clocks() at the same point.
    void chain_clocks() { chained_ = true; }
    void write_clock(std::uint64_t packed) {
        if (!chained_) return write_varint(packed);
        write_varint(detail::zigzag_difference(packed, previous_));
        previous_ = packed;
    }

private:
    std::string& out_;
    bool chained_ = false;
    std::uint64_t previous_ = 0;
};

class CompactInputArchive
    : public cereal::InputArchive<CompactInputArchive, cereal::AllowEmptyClassElision> {
public:
    explicit CompactInputArchive(std::string_view in) : InputArchive(this), in_(in) {}

    std::size_t remaining() const { return in_.size() - pos_; }

    std::uint8_t read_byte() {
        need(1);
        return static_cast<std::uint8_t>(in_[pos_++]);
    }
    void read_bytes(void* data, std::size_t size) {
        need(size);
        if (size == 0) return;  // an empty vector's data() may be null, which memcpy must not get
        std::memcpy(data, in_.data() + pos_, size);
        pos_ += size;
    }
    std::uint64_t read_varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const std::uint8_t b = read_byte();
            if (shift == 63 && b > 1) throw DecodeError("varint overflows 64 bits");
            v |= std::uint64_t{b & 0x7Fu} << shift;
            if (!(b & 0x80)) return v;
        }
        throw DecodeError("varint longer than 10 bytes");
    }
    // The reader's side of CompactOutputArchive::chain_clocks().
    void chain_clocks() { chained_ = true; }
    std::uint64_t read_clock() {
        if (!chained_) return read_varint();
        previous_ = detail::add_zigzag_difference(previous_, read_varint());
        return previous_;
    }

    // A count of elements still to come: each takes at least one byte, so a
    // count above the bytes left is corrupt.
    std::uint64_t read_count() {
        const std::uint64_t n = read_varint();
        if (n > remaining()) throw DecodeError("length exceeds the remaining input");
        return n;
    }

private:
    void need(std::size_t size) const {
        if (size > remaining()) throw DecodeError("input ends in the middle of a value");
    }

    std::string_view in_;
    std::size_t pos_ = 0;
    bool chained_ = false;
    std::uint64_t previous_ = 0;
};

template <class T>
    requires std::is_arithmetic_v<T>
void CEREAL_SAVE_FUNCTION_NAME(CompactOutputArchive& ar, const T& t) {
    if constexpr (detail::is_varint<T> && std::is_unsigned_v<T>) {
        ar.write_varint(t);
    } else if constexpr (detail::is_varint<T>) {
        using U = std::make_unsigned_t<T>;
        // Zig-zag, truncated back to U: shifts promote narrow types to int.
        const U zigzag = static_cast<U>(static_cast<U>(static_cast<U>(t) << 1) ^
                                        static_cast<U>(t >> (sizeof(T) * 8 - 1)));
        ar.write_varint(zigzag);
    } else {
        ar.write_bytes(&t, sizeof(T));  // bytes, bools and floating point: as they are
    }
}

template <class T>
    requires std::is_arithmetic_v<T>
void CEREAL_LOAD_FUNCTION_NAME(CompactInputArchive& ar, T& t) {
    if constexpr (detail::is_varint<T>) {
        using U = std::make_unsigned_t<T>;
        const std::uint64_t raw = ar.read_varint();
        if (raw > std::numeric_limits<U>::max()) throw DecodeError("integer out of range");
        const U u = static_cast<U>(raw);
        if constexpr (std::is_unsigned_v<T>) {
            t = u;
        } else {
            t = static_cast<T>(static_cast<U>(u >> 1) ^ static_cast<U>(U{0} - (u & 1)));
        }
    } else if constexpr (std::is_same_v<T, bool>) {
        const std::uint8_t b = ar.read_byte();
        if (b > 1) throw DecodeError("bool out of range");
        t = b != 0;
    } else {
        ar.read_bytes(&t, sizeof(T));
    }
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CompactOutputArchive& ar, const cereal::NameValuePair<T>& t) {
    ar(t.value);
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(CompactInputArchive& ar, cereal::NameValuePair<T>& t) {
    ar(t.value);
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CompactOutputArchive& ar, const cereal::SizeTag<T>& t) {
    ar.write_varint(static_cast<std::uint64_t>(t.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(CompactInputArchive& ar, cereal::SizeTag<T>& t) {
    t.size = static_cast<std::remove_reference_t<T>>(ar.read_count());
}

template <class T>
void CEREAL_SAVE_FUNCTION_NAME(CompactOutputArchive& ar, const cereal::BinaryData<T>& bd) {
    ar.write_bytes(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
void CEREAL_LOAD_FUNCTION_NAME(CompactInputArchive& ar, cereal::BinaryData<T>& bd) {
    ar.read_bytes(bd.data, static_cast<std::size_t>(bd.size));
}

}  // namespace meridian::crdt

CEREAL_REGISTER_ARCHIVE(meridian::crdt::CompactOutputArchive)
CEREAL_REGISTER_ARCHIVE(meridian::crdt::CompactInputArchive)
CEREAL_SETUP_ARCHIVE_TRAITS(meridian::crdt::CompactInputArchive,
                            meridian::crdt::CompactOutputArchive)
