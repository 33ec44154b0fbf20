#include "local_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cluster_template.hpp"  // generated from examples/cluster.toml
#include "resp_client.hpp"
#include "tests/tools/loopback_port.hpp"

namespace meridian::demo {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A loopback port held for this process (see tests/tools/loopback_port.hpp).
Expected<std::uint16_t, std::string> free_port() {
    if (auto port = meridian::testing::lease_loopback_port()) return *port;
    return unexpected(std::string("no free loopback port outside the ephemeral range"));
}

std::uint16_t port_of(std::string_view address) {
    const auto colon = address.rfind(':');
    return colon == std::string_view::npos
               ? 0
               : static_cast<std::uint16_t>(std::stoi(std::string(address.substr(colon + 1))));
}

std::string loopback(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

Expected<std::string, std::string> make_directory(const std::string& wanted, bool& created) {
    std::error_code ec;
    if (wanted.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/meridian-demo-XXXXXX";
        if (!::mkdtemp(pattern.data())) {
            return unexpected("cannot create " + pattern + ": " + std::strerror(errno));
        }
        created = true;
        return pattern;
    }
    if (fs::exists(wanted, ec) && !fs::is_empty(wanted, ec)) {
        return unexpected(wanted +
                          " is not empty (a demo cluster may still run there: stop it, "
                          "then remove the directory)");
    }
    created = !fs::exists(wanted, ec);
    fs::create_directories(wanted, ec);
    if (ec) return unexpected("cannot create " + wanted + ": " + ec.message());
    return fs::absolute(wanted).lexically_normal().string();
}

// Waits for `pid` to exit, at most `timeout`; its status, or -1 if it still runs.
int wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    do {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (done < 0) return 0;  // not our child any more (already reaped)
        std::this_thread::sleep_for(20ms);
    } while (Clock::now() < deadline);
    return -1;
}

// "connected_regions:2" out of an INFO replication answer.
int connected_regions(const std::string& info) {
    const std::string field = "connected_regions:";
    const auto at = info.find(field);
    return at == std::string::npos ? 0 : std::atoi(info.c_str() + at + field.size());
}

}  // namespace

Expected<std::unique_ptr<LocalCluster>, std::string> LocalCluster::start(
    const ClusterOptions& options) {
    if (::access(options.node_binary.c_str(), X_OK) != 0) {
        return unexpected(options.node_binary +
                          " is not an executable (build meridian-node, or pass --node)");
    }
    std::unique_ptr<LocalCluster> cluster(new LocalCluster());
    auto directory = make_directory(options.directory, cluster->owns_directory_);
    if (!directory) return unexpected(directory.error());
    cluster->directory_ = *directory;
    if (auto written = cluster->write_config(options.fixed_ports); !written) {
        return unexpected(written.error());
    }
    for (RegionEndpoint& region : cluster->regions_) {
        if (auto launched = cluster->launch(region, options.node_binary, options.keep); !launched) {
            return unexpected(launched.error());  // the destructor stops the others
        }
    }
    std::ofstream pids(cluster->pid_file());
    for (const RegionEndpoint& region : cluster->regions_)
        pids << region.pid << ' ' << region.name << '\n';
    if (auto ready = cluster->await_ready(); !ready) return unexpected(ready.error());
    return cluster;
}

LocalCluster::~LocalCluster() {
    if (!kept_) stop();
}

std::string LocalCluster::log_path(const RegionEndpoint& region) const {
    return directory_ + "/" + region.name + ".log";
}

// The cluster file: examples/cluster.toml with this cluster's addresses and
// data directories, so the demo runs exactly the policies a user reads there.
Expected<void, std::string> LocalCluster::write_config(bool fixed_ports) {
    toml::table config;
    try {
        config = toml::parse(std::string_view(cluster_template));
    } catch (const toml::parse_error& e) {
        return unexpected(std::string("examples/cluster.toml (built in): ") +
                          std::string(e.description()));
    }
    toml::array* regions = config["regions"].as_array();
    if (!regions)
        return unexpected(std::string("examples/cluster.toml (built in) has no [[regions]]"));
    for (toml::node& entry : *regions) {
        toml::table* table = entry.as_table();
        if (!table) continue;
        RegionEndpoint region;
        region.name = (*table)["name"].value_or(std::string());
        region.id = static_cast<int>((*table)["id"].value_or(std::int64_t{0}));
        if (fixed_ports) {
            region.client_port = port_of((*table)["client_listen"].value_or(std::string()));
            region.peer_port = port_of((*table)["peer_listen"].value_or(std::string()));
            region.admin_port = port_of((*table)["admin_listen"].value_or(std::string()));
        } else {
            for (std::uint16_t* port :
                 {&region.client_port, &region.peer_port, &region.admin_port}) {
                auto free = free_port();
                if (!free) return unexpected(free.error());
                *port = *free;
            }
        }
        table->insert_or_assign("client_listen", loopback(region.client_port));
        table->insert_or_assign("peer_listen", loopback(region.peer_port));
        table->insert_or_assign("admin_listen", loopback(region.admin_port));
        table->insert_or_assign("data_dir", directory_ + "/" + region.name);
        regions_.push_back(region);
    }
    config_path_ = directory_ + "/cluster.toml";
    std::ofstream out(config_path_);
    out << "# Written by balance_demo from examples/cluster.toml (see there for what each key "
           "means).\n"
        << config << '\n';
    out.close();
    if (!out) return unexpected("cannot write " + config_path_);
    return {};
}

Expected<void, std::string> LocalCluster::launch(RegionEndpoint& region,
                                                 const std::string& node_binary,
                                                 bool keep_after_exit) {
    const std::string log = log_path(region);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return unexpected(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        // A session of its own: Ctrl-C in the demo's terminal does not reach the
        // nodes (the demo stops them itself, or leaves them to the user with --keep).
        ::setsid();
        // Without --keep the nodes end with the demo, however it ends.
        if (!keep_after_exit &&
            (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent)) {
            ::_exit(127);
        }
        const int null = ::open("/dev/null", O_RDONLY);
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (null < 0 || out < 0) ::_exit(127);
        ::dup2(null, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        std::vector<std::string> args = {node_binary, "--config", config_path_, "--region",
                                         region.name};
        std::vector<char*> argv;
        for (std::string& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(node_binary.c_str(), argv.data());
        std::fprintf(stderr, "balance_demo: cannot run %s: %s\n", node_binary.c_str(),
                     std::strerror(errno));
        ::_exit(127);
    }
    region.pid = pid;
    return {};
}

Expected<void, std::string> LocalCluster::await_ready() {
    const auto deadline = Clock::now() + 20s;
    for (const RegionEndpoint& region : regions_) {
        RespClient client("127.0.0.1", region.client_port, 1000);
        while (true) {
            if (std::string dead = check_alive(); !dead.empty()) return unexpected(dead);
            const Reply pong = client.command({"PING"});
            const Reply info = pong.is_io_error() ? pong : client.command({"INFO", "replication"});
            const int peers = static_cast<int>(regions_.size()) - 1;
            if (info.kind == Reply::Kind::string && connected_regions(info.text) == peers) break;
            if (Clock::now() > deadline) {
                return unexpected(
                    region.name + " did not serve and link to its peers within 20 s (" +
                    (pong.is_io_error() ? pong.text : "links not up") + ")\n" + log_tail(region));
            }
            std::this_thread::sleep_for(50ms);
        }
    }
    return {};
}

std::string LocalCluster::check_alive() {
    for (RegionEndpoint& region : regions_) {
        if (region.pid <= 0) continue;
        int status = 0;
        if (::waitpid(region.pid, &status, WNOHANG) == region.pid) {
            region.pid = -1;
            const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return "the " + region.name + " node exited (status " + std::to_string(code) + ")\n" +
                   log_tail(region);
        }
    }
    return "";
}

std::string LocalCluster::stop() {
    if (stopped_) return "";
    stopped_ = true;
    std::string problems = check_alive();
    for (const RegionEndpoint& region : regions_) {
        if (region.pid > 0) ::kill(region.pid, SIGTERM);
    }
    for (RegionEndpoint& region : regions_) {
        if (region.pid <= 0) continue;
        int status = wait_exit(region.pid, 10s);
        if (status < 0) {
            ::kill(region.pid, SIGKILL);
            wait_exit(region.pid, 5s);
            problems +=
                "the " + region.name + " node did not stop within 10 s of SIGTERM (killed)\n";
        } else if (status != 0) {
            problems += "the " + region.name + " node exited with status " +
                        std::to_string(status) + " on SIGTERM\n" + log_tail(region);
        }
        region.pid = -1;
    }
    std::error_code ec;
    if (owns_directory_) {
        fs::remove_all(directory_, ec);
    } else {  // the user's directory: empty it, as it was
        for (const auto& entry : fs::directory_iterator(directory_, ec))
            fs::remove_all(entry.path(), ec);
    }
    return problems;
}

std::string LocalCluster::log_tail(const RegionEndpoint& region) const {
    std::ifstream in(log_path(region));
    std::stringstream text;
    text << in.rdbuf();
    std::string all = text.str();
    constexpr std::size_t tail = 2000;
    if (all.size() > tail) all = "..." + all.substr(all.size() - tail);
    return "--- " + log_path(region) + " ---\n" + all;
}

}  // namespace meridian::demo
