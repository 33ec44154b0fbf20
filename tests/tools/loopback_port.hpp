#pragma once
// Loopback ports for the local clusters the test harness, the bench and the
// balance demo start. Each region's ports go into every other region's config
// before any node binds them, so a port is chosen first and bound later by
// another process. Two things can take it in between:
//
//  - the kernel, which hands ports in net.ipv4.ip_local_port_range to every
//    outgoing connection and every bind to port 0 (probing with bind(0), as we
//    once did, picks exactly the ports it hands out next: a CI run failed with
//    "Address already in use" on one);
//  - another process doing the same thing at the same time (ctest -j2).
//
// So a port is picked below the ephemeral range, and leased with an flock()
// on a per-port file that this process holds until it exits (the kernel drops
// the lock even on kill -9). A bind probe then skips ports some server holds.
// Header-only so that the bench and the demo, which do not link the tests,
// share it.

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>

namespace meridian::testing {

// [first, last] holds no port the kernel picks on its own.
struct PortRange {
    std::uint16_t first = 0;
    std::uint16_t last = 0;
};

inline PortRange leasable_ports() {
    unsigned low = 32768, high = 60999;  // Linux's default ephemeral range
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> low >> high;
    // Below the ephemeral range when there is room there (the default), else above it.
    if (low > 11000) return {10000, static_cast<std::uint16_t>(low - 1)};
    return {static_cast<std::uint16_t>(high + 1), 65535};
}

inline std::filesystem::path port_lock_path(std::uint16_t port) {
    return std::filesystem::temp_directory_path() / "meridian-ports" / std::to_string(port);
}

namespace detail {

// A descriptor holding the lease on `port`, or -1 when another process holds it.
// When the lock directory cannot be used the bind probe alone decides (-2).
inline int lock_port(std::uint16_t port) {
    const auto path = port_lock_path(port);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return -2;
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Whether a server could listen on 127.0.0.1:port now. SO_REUSEADDR as the
// node and redis-server set it, so a connection in TIME_WAIT does not count.
inline bool bindable(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

}  // namespace detail

// A loopback port no other caller of this function holds and no server is
// listening on, held by this process until it exits; nothing when the whole
// range is taken.
inline std::optional<std::uint16_t> lease_loopback_port() {
    static std::mutex mutex;
    static std::set<std::uint16_t> handed_out;  // in case the lock directory is unusable
    const std::lock_guard<std::mutex> guard(mutex);
    // Shared by every user's test runs, hence open to all.
    const auto lock_dir = port_lock_path(0).parent_path();
    std::error_code ignored;
    std::filesystem::create_directories(lock_dir, ignored);
    std::filesystem::permissions(lock_dir, std::filesystem::perms::all, ignored);
    const PortRange range = leasable_ports();
    const unsigned span = range.last - range.first + 1u;
    std::mt19937 random(std::random_device{}());
    const unsigned start = std::uniform_int_distribution<unsigned>(0, span - 1)(random);
    for (unsigned step = 0; step < span; ++step) {
        const auto port = static_cast<std::uint16_t>(range.first + (start + step) % span);
        if (handed_out.contains(port)) continue;
        const int lease = detail::lock_port(port);
        if (lease == -1) continue;
        if (!detail::bindable(port)) {
            if (lease >= 0) ::close(lease);
            continue;
        }
        // Deliberately never closed: the descriptor is the lease.
        handed_out.insert(port);
        return port;
    }
    return std::nullopt;
}

}  // namespace meridian::testing
