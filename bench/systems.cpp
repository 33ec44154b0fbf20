#include "systems.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>

namespace meridian::bench {

namespace {

// One line to the relay's control port, one line back.
std::string control_exchange(std::uint16_t port, const std::string& line) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw BenchError("socket(): " + std::string(std::strerror(errno)));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    std::string answer;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
        const std::string out = line + "\n";
        if (::write(fd, out.data(), out.size()) == static_cast<ssize_t>(out.size())) {
            char c = 0;
            while (::read(fd, &c, 1) == 1 && c != '\n') answer += c;
        }
    }
    ::close(fd);
    if (answer.rfind("OK", 0) != 0) {
        throw BenchError("relay control '" + line + "' answered '" + answer + "'");
    }
    return answer;
}

std::string endpoint(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

}  // namespace

Relay::Relay(const Launch& bins, std::uint16_t target_port, const std::string& log_path) {
    child_ = std::make_unique<Child>(
        bins.proxy, std::vector<std::string>{"--target", endpoint(target_port)}, log_path);
    const std::regex ready(R"(listening (\d+) control (\d+))");
    const bool up = wait_until(
        [&] {
            std::smatch m;
            const std::string text = read_file(log_path);
            if (!std::regex_search(text, m, ready)) return false;
            port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
            control_port_ = static_cast<std::uint16_t>(std::stoi(m[2]));
            return true;
        },
        10000, 10);
    if (!up) throw BenchError("relay did not start: " + child_->log_tail());
}

std::string Relay::control(const std::string& line) {
    return control_exchange(control_port_, line);
}

std::pair<std::uint64_t, std::uint64_t> Relay::bytes() {
    const auto fields = split_fields([&] {
        std::string s = control("status");
        for (char& c : s) c = c == ' ' ? ',' : c;
        return s;
    }());
    return {to_u64(fields.at("bytes_forward")), to_u64(fields.at("bytes_backward"))};
}

// ---------------------------------------------------------------------------------------------

MeridianCluster::MeridianCluster(const Launch& bins, MeridianOptions options)
    : bins_(bins), options_(std::move(options)) {
    static const char* names[] = {"us-east", "eu-west", "ap-south", "sa-east", "af-south"};
    for (int i = 0; i < options_.regions; ++i) {
        Region r;
        r.name = names[i];
        r.client_port = free_port();
        r.peer_port = free_port();
        r.data_dir = root_.path() + "/" + r.name;
        r.config_path = root_.path() + "/" + r.name + ".toml";
        regions_.push_back(std::move(r));
    }
    if (options_.relays) {
        for (std::size_t i = 1; i < regions_.size(); ++i) {
            relays_.push_back(
                std::make_unique<Relay>(bins_, regions_[i].peer_port,
                                        root_.path() + "/relay-" + regions_[i].name + ".log"));
        }
    }
    for (std::size_t i = 0; i < regions_.size(); ++i) {
        write_file(regions_[i].config_path, config_text(i));
    }
    const int started = options_.started < 0 ? options_.regions : options_.started;
    for (int i = 0; i < started; ++i) start_region(static_cast<std::size_t>(i));
    wait_connected(30000);
}

MeridianCluster::~MeridianCluster() = default;

std::string MeridianCluster::config_text(std::size_t self) const {
    std::ostringstream out;
    out << "cluster = \"bench\"\nsecret = \"bench-secret\"\nfsync = \"" << bins_.fsync << "\"\n"
        << "default_policy = \"lww\"\nlog_level = \"warn\"\n"
        << options_.extra_toml << "\n";
    for (std::size_t i = 0; i < regions_.size(); ++i) {
        const Region& r = regions_[i];
        // The writer (region 1, the lowest id) dials every other region: through its relay.
        const std::uint16_t peer =
            self == 0 && i > 0 && !relays_.empty() ? relays_[i - 1]->port() : r.peer_port;
        out << "[[regions]]\nid = " << i + 1 << "\nname = \"" << r.name << "\"\n"
            << "client_listen = \"" << endpoint(r.client_port) << "\"\n"
            << "peer_listen = \"" << endpoint(peer) << "\"\n"
            << "data_dir = \"" << r.data_dir << "\"\n\n";
    }
    out << "[[policy]]\nmatch = \"lww:*\"\ntype = \"lww\"\n\n"
        << "[[policy]]\nmatch = \"counter:*\"\ntype = \"counter\"\n\n"
        << "[[policy]]\nmatch = \"set:*\"\ntype = \"set\"\n";
    return out.str();
}

void MeridianCluster::start_region(std::size_t i) {
    Region& r = regions_[i];
    r.child = std::make_unique<Child>(
        bins_.node, std::vector<std::string>{"--config", r.config_path, "--region", r.name},
        root_.path() + "/" + r.name + ".log");
    if (!wait_for_ping(r.client_port, 30000)) {
        throw BenchError("meridian-node " + r.name + " did not start: " + r.child->log_tail());
    }
}

void MeridianCluster::wait_connected(int timeout_ms) {
    std::size_t running = 0;
    for (auto& r : regions_) running += r.child ? 1 : 0;
    for (auto& r : regions_) {
        if (!r.child) continue;
        const bool ok = wait_until(
            [&] {
                Client c(r.client_port);
                return to_u64(c.info("replication")["connected_regions"]) + 1 >= running;
            },
            timeout_ms, 20);
        if (!ok) throw BenchError("region " + r.name + " did not connect: " + r.child->log_tail());
    }
}

std::map<std::string, std::uint64_t> MeridianCluster::version_vector(std::size_t i) {
    Client c(regions_[i].client_port);
    Reply r = c.command({"MERIDIAN", "VV"});
    if (r.is_error()) throw BenchError("MERIDIAN VV: " + r.str);
    std::map<std::string, std::uint64_t> vv;
    std::istringstream in(r.str);
    std::string item;
    while (in >> item) {
        const auto colon = item.rfind(':');
        if (colon != std::string::npos) vv[item.substr(0, colon)] = to_u64(item.substr(colon + 1));
    }
    return vv;
}

bool MeridianCluster::wait_replicated(int timeout_ms) {
    return wait_until(
        [&] {
            const auto want = version_vector(0);
            for (std::size_t i = 1; i < regions_.size(); ++i) {
                if (!regions_[i].child) continue;
                auto have = version_vector(i);
                for (const auto& [origin, seq] : want) {
                    if (have[origin] < seq) return false;
                }
            }
            return true;
        },
        timeout_ms, 2);
}

std::pair<std::uint64_t, std::uint64_t> MeridianCluster::reported_stream_bytes() {
    Client c(writer_port());
    std::uint64_t wire = 0, raw = 0;
    for (const auto& [name, value] : c.info("replication")) {
        if (name.rfind("region_", 0) != 0) continue;
        const auto fields = split_fields(value);
        wire += to_u64(fields.count("bytes_sent") ? fields.at("bytes_sent") : "");
        raw += to_u64(fields.count("bytes_sent_raw") ? fields.at("bytes_sent_raw") : "");
    }
    return {wire, raw};
}

// ---------------------------------------------------------------------------------------------

RedisCluster::RedisCluster(const Launch& bins, RedisOptions options)
    : bins_(bins), options_(options) {
    master_port_ = free_port();
    const std::string master_dir = root_.path() + "/master";
    std::filesystem::create_directories(master_dir);
    master_ = std::make_unique<Child>(bins_.redis_server, server_args(master_port_, master_dir),
                                      root_.path() + "/master.log");
    if (!wait_for_ping(master_port_, 20000)) {
        throw BenchError("redis-server did not start: " + master_->log_tail());
    }
    for (int i = 0; i < options_.replicas; ++i) {
        Replica r;
        r.port = free_port();
        r.dir = root_.path() + "/replica" + std::to_string(i);
        std::filesystem::create_directories(r.dir);
        replicas_.push_back(std::move(r));
        if (options_.relays) {
            relays_.push_back(std::make_unique<Relay>(
                bins_, master_port_, root_.path() + "/relay" + std::to_string(i) + ".log"));
        }
    }
    const int started = options_.started < 0 ? options_.replicas : options_.started;
    for (int i = 0; i < started; ++i) start_replica(static_cast<std::size_t>(i));
    wait_linked(30000);
}

RedisCluster::~RedisCluster() = default;

std::vector<std::string> RedisCluster::server_args(std::uint16_t port,
                                                   const std::string& dir) const {
    // The comparison's durability: append-only file fsynced every second, no RDB snapshots
    // (Meridian's own snapshots are rare at these sizes); full syncs start without waiting.
    return {"--port",
            std::to_string(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            dir,
            "--appendonly",
            "yes",
            "--appendfsync",
            bins_.fsync,
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--repl-diskless-sync-delay",
            "0",
            "--loglevel",
            "warning"};
}

void RedisCluster::start_replica(std::size_t i) {
    Replica& r = replicas_[i];
    auto args = server_args(r.port, r.dir);
    const std::uint16_t upstream = options_.relays ? relays_[i]->port() : master_port_;
    args.insert(args.end(), {"--replicaof", "127.0.0.1", std::to_string(upstream)});
    r.child = std::make_unique<Child>(bins_.redis_server, args,
                                      root_.path() + "/replica" + std::to_string(i) + ".log");
    if (!wait_for_ping(r.port, 20000)) {
        throw BenchError("redis replica did not start: " + r.child->log_tail());
    }
}

void RedisCluster::wait_linked(int timeout_ms) {
    for (auto& r : replicas_) {
        if (!r.child) continue;
        const bool ok = wait_until(
            [&] {
                Client c(r.port);
                return c.info("replication")["master_link_status"] == "up";
            },
            timeout_ms, 10);
        if (!ok) throw BenchError("redis replica did not link: " + r.child->log_tail());
    }
}

bool RedisCluster::wait_replicated(int timeout_ms) {
    return wait_until(
        [&] {
            Client m(master_port_);
            const std::uint64_t want = to_u64(m.info("replication")["master_repl_offset"]);
            for (auto& r : replicas_) {
                if (!r.child) continue;
                Client c(r.port);
                auto info = c.info("replication");
                if (info["master_link_status"] != "up") return false;
                if (to_u64(info["slave_repl_offset"]) < want) return false;
            }
            return true;
        },
        timeout_ms, 2);
}

MemoryInfo memory_of(std::uint16_t port) {
    Client c(port);
    auto info = c.info("memory");
    return {to_u64(info["used_memory"]), to_u64(info["used_memory_dataset"]),
            to_u64(info["used_memory_rss"])};
}

}  // namespace meridian::bench
