// FrameTamper: follows Meridian's peer frames (`u32 length | u8 type | u8 flags | body`, see
// replication/frame.hpp) through one direction of a proxied connection and alters the stream
// where a test asks, as someone on the path between two regions could: flip one byte in the middle
// of a frame's body, or insert a whole frame (a replayed one, or one taken from another link) at a
// frame boundary. The first frames of each direction (the handshake: Hello and Auth) pass
// untouched, so what is tested is the protection of an established link. Used by
// meridian-fault-proxy on plain-TCP links; under TLS it would follow nothing meaningful.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::tools {

// What the test ordered for one direction, shared by every connection of the proxy: whichever
// connection reaches a suitable point first carries out an order.
struct TamperOrders {
    std::uint64_t flips = 0;          // frames still to get a flipped byte
    std::deque<std::string> inserts;  // whole frames still to insert
    std::uint64_t done = 0;           // orders carried out
    std::string last_frame;           // the latest small frame past the handshake, whole
};

class FrameTamper {
public:
    static constexpr std::size_t header_bytes = 6;
    static constexpr std::size_t handshake_frames = 2;
    static constexpr std::size_t max_captured_bytes = 1024;

    // Appends `in`, as altered by the pending orders, to `out`.
    void pass(std::string_view in, TamperOrders& orders, std::vector<char>& out) {
        std::size_t at = 0;
        for (;;) {
            if (header_.empty() && remaining_ == 0 && past_handshake()) {
                // A frame boundary: inserted frames go here, whole.
                while (!orders.inserts.empty()) {
                    const std::string& frame = orders.inserts.front();
                    out.insert(out.end(), frame.begin(), frame.end());
                    orders.inserts.pop_front();
                    ++orders.done;
                }
            }
            if (at == in.size()) return;
            if (remaining_ == 0) {
                const std::size_t take = std::min(header_bytes - header_.size(), in.size() - at);
                header_.append(in.substr(at, take));
                out.insert(out.end(), in.begin() + at, in.begin() + at + take);
                at += take;
                if (header_.size() == header_bytes) start_frame(orders);
                continue;
            }
            const std::size_t take = std::min(remaining_, in.size() - at);
            const std::size_t start = out.size();
            out.insert(out.end(), in.begin() + at, in.begin() + at + take);
            if (flip_at_ >= body_seen_ && flip_at_ < body_seen_ + take) {
                out[start + (flip_at_ - body_seen_)] ^= 0x01;
                flip_at_ = no_flip;
                ++orders.done;
            }
            if (capturing_) current_.append(out.begin() + start, out.end());
            at += take;
            body_seen_ += take;
            remaining_ -= take;
            if (remaining_ == 0) end_frame(orders);
        }
    }

private:
    static constexpr std::size_t no_flip = SIZE_MAX;

    bool past_handshake() const { return frames_ >= handshake_frames; }

    void start_frame(TamperOrders& orders) {
        std::uint32_t length = 0;
        for (int i = 0; i < 4; ++i)
            length |= std::uint32_t{static_cast<std::uint8_t>(header_[i])} << (8 * i);
        remaining_ = length;
        body_seen_ = 0;
        capturing_ = past_handshake() && header_bytes + length <= max_captured_bytes;
        current_ = capturing_ ? header_ : std::string();
        if (past_handshake() && orders.flips > 0 && length > 0) {
            --orders.flips;
            flip_at_ = length / 2;
        }
        header_.clear();
        if (remaining_ == 0) end_frame(orders);
    }

    void end_frame(TamperOrders& orders) {
        if (capturing_) orders.last_frame = std::move(current_);
        capturing_ = false;
        current_.clear();
        ++frames_;
    }

    std::string header_;         // the header read so far of the next frame
    std::size_t remaining_ = 0;  // body bytes of the current frame not yet seen
    std::size_t body_seen_ = 0;
    std::size_t flip_at_ = no_flip;
    bool capturing_ = false;
    std::string current_;     // the current frame so far, when small enough to capture
    std::size_t frames_ = 0;  // frames seen whole
};

}  // namespace meridian::tools
