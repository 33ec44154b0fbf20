// Worker threads that do background work (snapshots, backups, archiving) run
// at a lower CPU priority than the event loop: on a busy machine they yield to
// serving clients instead of adding milliseconds to every request
// (docs/BENCHMARKS.md, "Writes during a backup").
#pragma once

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <sys/resource.h>
#include <unistd.h>

namespace meridian::node {

// Lowers the priority of `pool`'s one thread (Linux: per thread). Best effort.
inline void run_in_background(boost::asio::thread_pool& pool) {
    boost::asio::post(pool, [] { (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10); });
}

}  // namespace meridian::node
