// libFuzzer target for the cluster file parser. Any input must give either a
// one-line error naming the file, or a config whose invariants hold (regions
// unique and in the directory, policies well-formed, a fingerprint that is a
// function of the input). Not wired into CMake; build and run with:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     -DTOML_HEADER_ONLY=0 -DTOML_SHARED_LIB=1 tests/fuzz/cluster_config_fuzz.cpp \
//     node/cluster_config.cpp conflict/*.cpp crdt/*.cpp -ltomlplusplus -o cluster_config_fuzz
//   ./cluster_config_fuzz -max_total_time=60 -max_len=4096 CORPUS_DIR
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "conflict/glob.hpp"
#include "node/cluster_config.hpp"

namespace {

// A folder that does not exist, so a relative secret_file never reaches a real file.
constexpr std::string_view source = "/nonexistent/meridian-fuzz/cluster.toml";

[[noreturn]] void die(const char* what, std::string_view detail = {}) {
    std::fprintf(stderr, "cluster_config_fuzz: %s %.*s\n", what, static_cast<int>(detail.size()),
                 detail.data());
    std::abort();
}

void check_error(const std::string& error) {
    if (error.rfind(source, 0) != 0) die("error does not name the file:", error);
    if (error.find('\n') != std::string::npos) die("error spans lines:", error);
}

void check_config(const meridian::node::ClusterConfig& c) {
    using meridian::conflict::HomeRule;
    if (c.cluster.empty() || c.secret.empty()) die("empty cluster name or secret");
    if (c.regions.empty()) die("no regions");
    if (c.directory.size() != c.regions.size()) die("directory and regions disagree");
    std::set<std::string> addresses;
    for (const auto& r : c.regions) {
        if (r.id == 0) die("region id 0");
        if (c.directory.name_of(r.id) != r.name) die("directory misnames region", r.name);
        if (c.find_region(r.name) != &r || c.find_region(r.id) != &r) die("find_region", r.name);
        if (r.data_dir.empty()) die("empty data_dir", r.name);
        for (const std::string* a : {&r.client_listen, &r.peer_listen, &r.admin_listen}) {
            if (a->empty()) continue;
            if (a->find(':') == std::string::npos) die("address without port", *a);
            if (!addresses.insert(*a).second) die("address used twice", *a);
        }
        if (r.client_listen.empty() || r.peer_listen.empty()) die("missing listener", r.name);
    }
    for (const auto& p : c.policies.rules()) {
        if (p.match.empty() || meridian::conflict::glob_problem(p.match)) die("bad match", p.match);
        if (p.home_routed != (p.home.kind != HomeRule::Kind::none)) die("home/route", p.match);
        if (p.home.kind == HomeRule::Kind::fixed && c.directory.name_of(p.home.region).empty()) {
            die("home outside the directory", p.match);
        }
        if (p.min && *p.min > 0) die("floor above zero", p.match);
        if (p.type == meridian::crdt::ValueType::bounded_counter && !p.min) die("no floor");
        (void)c.policies.lookup(p.match);  // any key, the patterns themselves included
    }
    if (c.tls.enabled() && (c.tls.key_file.empty() || c.tls.ca_file.empty())) die("partial tls");
    if (c.reconnect_max_ms < c.reconnect_min_ms || c.peer_timeout_ms <= c.heartbeat_ms) {
        die("tunables disagree");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto first = meridian::node::parse_cluster_config(text, source);
    if (!first) {
        check_error(first.error());
        return 0;
    }
    check_config(*first);
    auto again = meridian::node::parse_cluster_config(text, source);
    if (!again || again->fingerprint() != first->fingerprint()) die("parse is not a function");
    return 0;
}
