// meridian-node started on broken cluster files and command lines: it must refuse to start with
// exit code 2 and one line on stderr naming the file and the problem, before touching any data.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;

// A region entry with fresh loopback ports (the node never gets far enough to bind them).
std::string region_entry(int id, const std::string& name, const std::string& data_root) {
    return "\n[[regions]]\nid = " + std::to_string(id) + "\nname = \"" + name +
           "\"\nclient_listen = \"127.0.0.1:" + std::to_string(free_port()) +
           "\"\npeer_listen = \"127.0.0.1:" + std::to_string(free_port()) + "\"\ndata_dir = \"" +
           data_root + "/" + name + "\"\n";
}

struct Broken {
    std::string name;                   // what is wrong, for the failure message
    std::string toml;                   // the whole cluster file
    std::string region;                 // --region
    std::vector<std::string> expected;  // pieces the message must contain (besides the file)
};

// The output without its trailing newlines; the node's message must fit on one line.
std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
}

std::vector<Broken> broken_files(const std::string& root) {
    const std::string head = "cluster = \"c\"\nsecret = \"s\"\n";
    const std::string two_regions = region_entry(1, "east", root) + region_entry(2, "west", root);
    return {
        {"an unknown top-level key",
         head + "fsynk = \"always\"\n" + two_regions,
         "east",
         {"unknown key", "fsynk"}},
        {"no [[regions]] at all", head, "east", {"missing regions"}},
        {"a region without its peer_listen",
         head + "\n[[regions]]\nid = 1\nname = \"east\"\nclient_listen = \"127.0.0.1:" +
             std::to_string(free_port()) + "\"\n",
         "east",
         {"[[regions]] #1", "missing peer_listen"}},
        {"a duplicate region id",
         head + region_entry(1, "east", root) + region_entry(1, "west", root),
         "east",
         {"[[regions]] #2", "duplicate id 1"}},
        {"a bad glob",
         head + two_regions + "\n[[policy]]\nmatch = \"acct:[ab\"\ntype = \"counter\"\n",
         "east",
         {"[[policy]] #1", "acct:[ab", "glob"}},
        {"an unknown policy type",
         head + two_regions + "\n[[policy]]\nmatch = \"k:*\"\ntype = \"mvreg\"\n",
         "east",
         {"[[policy]] #1", "unknown type", "mvreg"}},
        {"a home naming no region",
         head + two_regions +
             "\n[[policy]]\nmatch = \"acct:*\"\ntype = \"counter\"\nroute = \"home\"\nhome = "
             "\"mars\"\n",
         "east",
         {"[[policy]] #1", "mars", "is not a region"}},
        {"a TOML syntax error", head + "fsync = \n" + two_regions, "east", {"TOML parse error"}},
        {"--region naming no region of the file",
         head + two_regions,
         "north",
         {"north", "no region named"}},
    };
}

}  // namespace

TEST_CASE(
    "a broken cluster file stops the node with exit code 2 and one line naming file and problem") {
    TempDir dir;
    for (const Broken& broken : broken_files(dir.path())) {
        const std::string path = dir.path() + "/cluster.toml";
        {
            std::ofstream out(path, std::ios::trunc);
            out << broken.toml;
        }
        auto [status, output] = run_node({"--config", path, "--region", broken.region});
        const std::string message = trimmed(output);
        INFO("case: " << broken.name << "\nfile:\n" << broken.toml << "\noutput:\n" << output);
        CHECK(status == 2);
        CHECK(message.find('\n') == std::string::npos);
        CHECK(message.find(path) != std::string::npos);
        for (const std::string& piece : broken.expected) {
            INFO("expected piece: " << piece);
            CHECK(message.find(piece) != std::string::npos);
        }
        // Refused before start-up: no data directory was created for the region.
        CHECK_FALSE(std::filesystem::exists(dir.path() + "/" + broken.region));
    }
}

TEST_CASE("a missing cluster file is a configuration error naming the path") {
    TempDir dir;
    const std::string path = dir.path() + "/nowhere.toml";
    auto [status, output] = run_node({"--config", path, "--region", "east"});
    INFO(output);
    CHECK(status == 2);
    CHECK(trimmed(output).find('\n') == std::string::npos);
    CHECK(output.find(path) != std::string::npos);
}

TEST_CASE("a command line without --region or with an unknown option exits with code 2") {
    TempDir dir;
    const std::string path = dir.path() + "/cluster.toml";
    {
        std::ofstream out(path);
        out << "cluster = \"c\"\nsecret = \"s\"\n" << region_entry(1, "east", dir.path());
    }
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"--config", path},
          std::vector<std::string>{"--config", path, "--region", "east", "--fsync", "sometimes"},
          std::vector<std::string>{"--config", path, "--region", "east", "--no-such-flag"}}) {
        auto [status, output] = run_node(args);
        std::string line;
        for (const auto& a : args) line += a + " ";
        INFO("args: " << line << "\noutput:\n" << output);
        CHECK(status == 2);
        CHECK_FALSE(output.empty());
    }
}
