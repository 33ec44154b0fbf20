#include "storage/file_copy.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "storage/fault_env.hpp"
#include "storage/sha256.hpp"

namespace {

using meridian::node::copy_file_durably;
using meridian::node::sha256_hex;
using meridian::node::write_file_durably;
using meridian::node::testing::FaultEnv;
using meridian::node::testing::TempDir;

void write(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string contents(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool exists(const std::string& path) {
    return std::filesystem::exists(path);
}

// Larger than three 1 MiB pieces, and not a multiple of one.
std::string big_source() {
    std::string out;
    for (std::size_t i = 0; i < (3u << 20) + 4321; ++i) {
        out.push_back(static_cast<char>((i * 7919) % 253));
    }
    return out;
}

}  // namespace

TEST_CASE("a durable copy has the source's bytes and reports their size and SHA-256") {
    TempDir tmp;
    FaultEnv env;
    const std::string source = big_source();
    write(tmp / "from", source);
    auto copied = copy_file_durably(env, tmp / "from", tmp / "to");
    REQUIRE(copied.has_value());
    CHECK(copied->bytes == source.size());
    CHECK(copied->sha256 == sha256_hex(source));
    CHECK(contents(tmp / "to") == source);
    CHECK_FALSE(exists(tmp / "to.tmp"));
    CHECK(env.appends() == 4);  // 1 MiB pieces
}

TEST_CASE("an empty file copies as an empty file") {
    TempDir tmp;
    FaultEnv env;
    write(tmp / "from", "");
    auto copied = copy_file_durably(env, tmp / "from", tmp / "to");
    REQUIRE(copied.has_value());
    CHECK(copied->bytes == 0);
    CHECK(copied->sha256 == sha256_hex(""));
    CHECK(exists(tmp / "to"));
}

TEST_CASE("a copy survives a crash right after it returns") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write(tmp / "from", "segment bytes");
    REQUIRE(copy_file_durably(env, tmp / "from", tmp / "to").has_value());
    env.crash();
    CHECK(contents(tmp / "to") == "segment bytes");
}

TEST_CASE("a stale tmp file from a crashed copy is replaced, not appended to") {
    TempDir tmp;
    FaultEnv env;
    write(tmp / "from", "the real contents");
    write(tmp / "to.tmp", "left over by a crash");
    auto copied = copy_file_durably(env, tmp / "from", tmp / "to");
    REQUIRE(copied.has_value());
    CHECK(contents(tmp / "to") == "the real contents");
    CHECK(copied->sha256 == sha256_hex("the real contents"));
    CHECK_FALSE(exists(tmp / "to.tmp"));
}

TEST_CASE("a copy over an existing file replaces it whole") {
    TempDir tmp;
    FaultEnv env;
    write(tmp / "from", "new");
    write(tmp / "to", "an older and longer file");
    REQUIRE(copy_file_durably(env, tmp / "from", tmp / "to").has_value());
    CHECK(contents(tmp / "to") == "new");
}

TEST_CASE("a failed write removes the tmp file and leaves no destination") {
    TempDir tmp;
    FaultEnv env;
    write(tmp / "from", big_source());
    env.fail_next_append(1000);
    auto copied = copy_file_durably(env, tmp / "from", tmp / "to");
    REQUIRE_FALSE(copied.has_value());
    CHECK(copied.error().find("to.tmp") != std::string::npos);
    CHECK_FALSE(exists(tmp / "to.tmp"));
    CHECK_FALSE(exists(tmp / "to"));
}

TEST_CASE("a failed sync removes the tmp file and leaves an existing destination untouched") {
    TempDir tmp;
    FaultEnv env;
    write(tmp / "from", "new contents");
    write(tmp / "to", "old contents");
    env.fail_next_sync();
    auto copied = copy_file_durably(env, tmp / "from", tmp / "to");
    REQUIRE_FALSE(copied.has_value());
    CHECK(copied.error().find("fdatasync") != std::string::npos);
    CHECK_FALSE(exists(tmp / "to.tmp"));
    CHECK(contents(tmp / "to") == "old contents");
}

TEST_CASE("copying a missing file is an error naming it, and leaves nothing behind") {
    TempDir tmp;
    FaultEnv env;
    auto copied = copy_file_durably(env, tmp / "missing", tmp / "to");
    REQUIRE_FALSE(copied.has_value());
    CHECK(copied.error().find(tmp / "missing") != std::string::npos);
    CHECK_FALSE(exists(tmp / "to.tmp"));
    CHECK_FALSE(exists(tmp / "to"));
}

TEST_CASE("small contents are written durably the same way") {
    TempDir tmp;
    FaultEnv env;
    env.skip_disk_syncs();
    write(tmp / "MANIFEST.tmp", "stale");
    REQUIRE(write_file_durably(env, tmp / "MANIFEST", "first").has_value());
    env.crash();
    CHECK(contents(tmp / "MANIFEST") == "first");
    CHECK_FALSE(exists(tmp / "MANIFEST.tmp"));

    // Replacing an existing file: the new contents survive a crash whole.
    REQUIRE(write_file_durably(env, tmp / "MANIFEST", "second, longer").has_value());
    env.crash();
    CHECK(contents(tmp / "MANIFEST") == "second, longer");
    REQUIRE(write_file_durably(env, tmp / "MANIFEST", "second").has_value());
    env.crash();
    CHECK(contents(tmp / "MANIFEST") == "second");

    env.fail_next_sync();
    REQUIRE_FALSE(write_file_durably(env, tmp / "MANIFEST", "third").has_value());
    CHECK(contents(tmp / "MANIFEST") == "second");
    CHECK_FALSE(exists(tmp / "MANIFEST.tmp"));
}
