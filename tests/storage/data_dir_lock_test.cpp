#include "storage/data_dir_lock.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "storage/fault_env.hpp"

namespace {

using meridian::node::DataDirLock;
using meridian::node::testing::TempDir;

std::string in_use_message(const std::string& dir, pid_t pid) {
    return "data directory " + dir + " is in use by another meridian-node (pid " +
           std::to_string(pid) + ")";
}

}  // namespace

TEST_CASE("a second acquire fails with the holder's pid until the lock is released") {
    TempDir tmp;
    const std::string dir = tmp / "data/us-east";
    {
        auto first = DataDirLock::acquire(dir);
        REQUIRE(first.has_value());
        CHECK(first->path() == dir + "/node.lock");
        std::ifstream pid_file(dir + "/node.lock");
        pid_t written = 0;
        pid_file >> written;
        CHECK(written == ::getpid());

        auto second = DataDirLock::acquire(dir);
        REQUIRE_FALSE(second.has_value());
        CHECK(second.error() == in_use_message(dir, ::getpid()));

        // Moving the lock keeps it held.
        DataDirLock moved = std::move(*first);
        CHECK_FALSE(DataDirLock::acquire(dir).has_value());
    }
    auto again = DataDirLock::acquire(dir);
    CHECK(again.has_value());
}

TEST_CASE("another process is refused while this one holds the lock") {
    TempDir tmp;
    const std::string dir = tmp.path();
    auto held = DataDirLock::acquire(dir);
    REQUIRE(held.has_value());

    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // 0: refused with the parent's pid; 1: refused otherwise; 2: acquired.
        auto lock = DataDirLock::acquire(dir);
        if (lock.has_value()) ::_exit(2);
        ::_exit(lock.error() == in_use_message(dir, ::getppid()) ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a lock assigned over another releases the one it replaces") {
    TempDir tmp;
    auto a = DataDirLock::acquire(tmp / "a");
    auto b = DataDirLock::acquire(tmp / "b");
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    *a = std::move(*b);
    CHECK(a->path() == tmp / "b/node.lock");
    CHECK(DataDirLock::acquire(tmp / "a").has_value());
    CHECK_FALSE(DataDirLock::acquire(tmp / "b").has_value());
}
