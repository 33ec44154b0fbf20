#include "node/incarnation.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "storage/fault_env.hpp"

namespace {

using meridian::crdt::RegionId;
using meridian::crdt::ReplicaId;
using meridian::crdt::VersionVector;
using meridian::node::begin_incarnation;
using meridian::node::current_boot_id;
using meridian::node::FsyncMode;
using meridian::node::Incarnation;
using meridian::node::mark_clean_shutdown;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::TempDir;

constexpr RegionId region = 3;

struct DataDir {
    TempDir dir;
    FaultEnv env;
    DataDir() { env.skip_disk_syncs(); }

    std::string incarnation_path() const { return dir / "incarnation"; }
    std::string clean_path() const { return dir / "clean_shutdown"; }

    Incarnation begin(FsyncMode fsync, const VersionVector& recovered = {}) {
        auto result = begin_incarnation(env, dir.path(), region, fsync, recovered);
        INFO((result.has_value() ? std::string() : result.error()));
        REQUIRE(result.has_value());
        INFO("reason: " << result->reason);
        CHECK_FALSE(result->reason.empty());
        return *result;
    }
    void clean_shutdown() { REQUIRE(mark_clean_shutdown(env, dir.path()).has_value()); }

    std::string read_incarnation() const {
        std::ifstream in(incarnation_path());
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
    void write_incarnation(const std::string& text) const {
        std::ofstream(incarnation_path(), std::ios::trunc) << text;
    }
    // What a reboot of the machine looks like to the next start: another boot id.
    void reboot() const {
        std::string text = read_incarnation();
        const auto at = text.find("boot_id=");
        REQUIRE(at != std::string::npos);
        const auto end = text.find('\n', at);
        text.replace(at, end - at, "boot_id=00000000-0000-0000-0000-00000000dead");
        write_incarnation(text);
    }
};

VersionVector vv_with(ReplicaId replica, std::uint64_t seq) {
    VersionVector vv;
    vv.advance(replica, seq);
    return vv;
}

}  // namespace

TEST_CASE("a new data directory starts at epoch 0 and records the run") {
    DataDir d;
    CHECK(d.begin(FsyncMode::everysec).epoch == 0);
    const std::string text = d.read_incarnation();
    INFO(text);
    CHECK(text.find("epoch=0\n") != std::string::npos);
    CHECK(text.find("fsync=everysec\n") != std::string::npos);
    CHECK(text.find("boot_id=" + current_boot_id() + "\n") != std::string::npos);
}

TEST_CASE("another region's epochs in the recovered vector do not count") {
    DataDir d;
    CHECK(d.begin(FsyncMode::everysec, vv_with(ReplicaId{7, 12}, 40)).epoch == 0);
}

TEST_CASE("after a clean shutdown the epoch continues, even after a reboot") {
    DataDir d;
    REQUIRE(d.begin(FsyncMode::everysec).epoch == 0);
    d.clean_shutdown();
    d.reboot();
    CHECK(d.begin(FsyncMode::everysec, vv_with(ReplicaId{region, 0}, 9)).epoch == 0);
    // The mark is consumed: the run that just started has not shut down cleanly yet.
    CHECK_FALSE(std::filesystem::exists(d.clean_path()));
}

TEST_CASE("the clean-shutdown mark counts for one start only") {
    DataDir d;
    REQUIRE(d.begin(FsyncMode::no).epoch == 0);
    d.clean_shutdown();
    REQUIRE(d.begin(FsyncMode::no).epoch == 0);
    d.reboot();  // this run then dies with the machine
    CHECK(d.begin(FsyncMode::no).epoch == 1);
}

TEST_CASE("an unclean stop under fsync always keeps the epoch, even after a reboot") {
    DataDir d;
    REQUIRE(d.begin(FsyncMode::always).epoch == 0);
    d.reboot();
    // The mode that matters is the one the lost run wrote under.
    CHECK(d.begin(FsyncMode::everysec, vv_with(ReplicaId{region, 0}, 5)).epoch == 0);
}

TEST_CASE("a process that died on a machine that kept running keeps the epoch") {
    if (current_boot_id().empty()) {
        WARN("no boot id on this machine: every unclean stop counts as a reboot");
        return;
    }
    for (FsyncMode mode : {FsyncMode::everysec, FsyncMode::no}) {
        DataDir d;
        REQUIRE(d.begin(mode).epoch == 0);
        CHECK(d.begin(mode, vv_with(ReplicaId{region, 0}, 5)).epoch == 0);
    }
}

TEST_CASE("a reboot after an unclean stop under everysec or no starts a new epoch") {
    for (FsyncMode mode : {FsyncMode::everysec, FsyncMode::no}) {
        INFO((mode == FsyncMode::no ? "fsync no" : "fsync everysec"));
        DataDir d;
        REQUIRE(d.begin(mode).epoch == 0);
        d.reboot();
        CHECK(d.begin(mode, vv_with(ReplicaId{region, 0}, 5)).epoch == 1);
        CHECK(d.read_incarnation().find("epoch=1\n") != std::string::npos);
        d.reboot();
        CHECK(d.begin(mode).epoch == 2);
    }
}

TEST_CASE("a missing incarnation file beside existing data starts a new epoch") {
    DataDir d;
    CHECK(d.begin(FsyncMode::always, vv_with(ReplicaId{region, 4}, 17)).epoch == 5);
}

TEST_CASE("an unreadable incarnation file is decided from the data alone") {
    DataDir d;
    d.write_incarnation("this is not an incarnation file\n");
    CHECK(d.begin(FsyncMode::always, vv_with(ReplicaId{region, 2}, 1)).epoch == 3);

    DataDir empty;
    empty.write_incarnation("epoch=banana\nfsync=always\n");
    CHECK(empty.begin(FsyncMode::always).epoch == 0);
}

TEST_CASE("a recovered vector naming a later epoch of this region wins over the file") {
    DataDir d;
    REQUIRE(d.begin(FsyncMode::always).epoch == 0);
    // Clean, always, same boot: each would keep the file's epoch 0, but the data has seen 6.
    d.clean_shutdown();
    CHECK(d.begin(FsyncMode::everysec, vv_with(ReplicaId{region, 6}, 2)).epoch == 6);
    CHECK(d.begin(FsyncMode::everysec, vv_with(ReplicaId{region, 8}, 2)).epoch >= 8);
    d.reboot();
    CHECK(d.begin(FsyncMode::everysec, vv_with(ReplicaId{region, 9}, 2)).epoch == 10);
}

TEST_CASE("a region that used epoch 65535 is refused rather than wrapping to 0") {
    SECTION("after a reboot") {
        DataDir d;
        d.write_incarnation("epoch=65535\nfsync=everysec\nboot_id=another-boot\n");
        auto result = begin_incarnation(d.env, d.dir.path(), region, FsyncMode::everysec, {});
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().find("65535") != std::string::npos);
    }
    SECTION("with the incarnation file missing") {
        DataDir d;
        auto result = begin_incarnation(d.env, d.dir.path(), region, FsyncMode::everysec,
                                        vv_with(ReplicaId{region, 65535}, 3));
        INFO((result.has_value() ? "epoch " + std::to_string(result->epoch) : result.error()));
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().find("65535") != std::string::npos);
    }
    SECTION("a clean shutdown at 65535 continues it") {
        DataDir d;
        d.write_incarnation("epoch=65535\nfsync=everysec\nboot_id=another-boot\n");
        d.clean_shutdown();
        CHECK(d.begin(FsyncMode::everysec).epoch == 65535);
    }
}

TEST_CASE("an epoch in the file above 65535 is treated as unreadable") {
    DataDir d;
    d.write_incarnation("epoch=70000\nfsync=always\nboot_id=x\n");
    CHECK(d.begin(FsyncMode::always, vv_with(ReplicaId{region, 1}, 1)).epoch == 2);
}

TEST_CASE("a repaired WAL starts a new epoch even after a clean shutdown") {
    // The records cut at the corruption may live on at peers: reusing their sequence numbers
    // would make the peers drop this run's new writes as duplicates.
    DataDir d;
    const VersionVector recovered = vv_with(ReplicaId{region, 0}, 40);
    REQUIRE(d.begin(FsyncMode::always).epoch == 0);
    d.clean_shutdown();
    auto result = begin_incarnation(d.env, d.dir.path(), region, FsyncMode::always, recovered,
                                    /*wal_repaired=*/true);
    REQUIRE(result.has_value());
    CHECK(result->epoch == 1);
    CHECK(result->reason.find("repaired") != std::string::npos);
}

TEST_CASE("a region whose epoch a failover retired continues above it, and says why") {
    DataDir d;
    REQUIRE(d.begin(FsyncMode::always).epoch == 0);
    d.clean_shutdown();
    auto retired = begin_incarnation(d.env, d.dir.path(), region, FsyncMode::always,
                                     vv_with(ReplicaId{region, 0}, 5), false, 1);
    REQUIRE(retired.has_value());
    CHECK(retired->epoch == 1);
    CHECK(retired->reason.find("a failover retired this region's epoch 0") != std::string::npos);
    // Epochs above the retired ones are kept.
    d.clean_shutdown();
    CHECK(d.begin(FsyncMode::always, vv_with(ReplicaId{region, 1}, 2)).epoch == 1);
}
