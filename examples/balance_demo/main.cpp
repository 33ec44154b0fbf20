// balance_demo: one bank account under each of Meridian's policies, on three
// live regions. Starts us-east, eu-west and ap-south as meridian-node
// processes, lets every region's clients deposit and withdraw at once, cuts
// one region off in the middle and heals it, and prints a table: what each
// policy did with the money.
//
//   usage: balance_demo [--duration S] [--clients N] [--amount N] [--seed N]
//                       [--short] [--keep] [--fixed-ports] [--dir DIR] [--node PATH]
//
// Exit status: 0 when every region converged, 1 when one did not (or the
// cluster failed), 2 for a bad command line.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

#include "local_cluster.hpp"
#include "report.hpp"
#include "workload.hpp"

namespace {

using namespace meridian::demo;

std::atomic<bool> interrupted{false};

void on_signal(int) {
    interrupted = true;
}

// meridian-node from the folder this program runs from (build/bin/).
std::string node_next_to_me() {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? "meridian-node" : (self.parent_path() / "meridian-node").string();
}

// One line that rewrites itself on a terminal; elsewhere a line per phase.
class ProgressLine {
public:
    ProgressLine() : tty_(::isatty(STDERR_FILENO) != 0) {}

    void show(const std::string& row, const std::string& phase, double elapsed,
              const RowResult& so_far) {
        std::string balances;
        for (const auto& b : so_far.final_balance)
            balances += (balances.empty() ? "" : " / ") + (b ? std::to_string(*b) : "?");
        char line[200];
        std::snprintf(line, sizeof line, "%-14s %5.1f s  %-18s %6lld ops  balance %s", row.c_str(),
                      elapsed, phase.c_str(), static_cast<long long>(so_far.acknowledged),
                      balances.c_str());
        if (tty_) {
            std::fprintf(stderr, "\r\033[K%s", line);
        } else if (phase != last_phase_) {
            std::fprintf(stderr, "%s\n", line);
        }
        last_phase_ = phase;
    }
    void finish() {
        if (tty_) std::fprintf(stderr, "\r\033[K");
        last_phase_.clear();
    }

private:
    bool tty_;
    std::string last_phase_;
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"balance_demo: one account under each Meridian policy, on three live regions"};
    WorkloadOptions workload;
    ClusterOptions cluster_options;
    cluster_options.node_binary = node_next_to_me();
    bool short_run = false;
    std::optional<std::uint64_t> seed;
    app.add_option("--duration", workload.seconds, "seconds of traffic per policy (default 8)")
        ->check(CLI::Range(1.0, 3600.0));
    app.add_option("--clients", workload.clients_per_region,
                   "concurrent clients per region (default 2)")
        ->check(CLI::Range(1, 64));
    app.add_option("--amount", workload.max_amount,
                   "largest single deposit or withdrawal (default 10)")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--seed", seed,
                   "seed of the clients' random choices (default: random, printed)");
    app.add_flag("--short", short_run, "a few seconds in all, for CI (2.5 s per policy)");
    app.add_flag("--keep", cluster_options.keep,
                 "leave the regions serving afterwards (prints how to connect and stop them)");
    app.add_flag("--fixed-ports", cluster_options.fixed_ports,
                 "use examples/cluster.toml's ports (client 7001-7003) instead of free ones");
    app.add_option("--dir", cluster_options.directory,
                   "where the cluster lives (default: a fresh temporary directory)");
    app.add_option("--node", cluster_options.node_binary,
                   "the meridian-node binary (default: next to this one)");
    CLI11_PARSE(app, argc, argv);
    std::setvbuf(stdout, nullptr, _IOLBF,
                 0);  // the table and the progress (stderr) interleave in order
    if (short_run && app.count("--duration") == 0) workload.seconds = 2.5;
    workload.seed = seed ? *seed : std::random_device{}();

    struct sigaction action {};
    action.sa_handler = on_signal;
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);

    std::printf("Starting three regions (meridian-node)...\n");
    std::fflush(stdout);
    auto started = LocalCluster::start(cluster_options);
    if (!started) {
        std::fprintf(stderr, "balance_demo: cannot start the cluster: %s\n",
                     started.error().c_str());
        return 1;
    }
    LocalCluster& cluster = **started;
    const auto& regions = cluster.regions();
    ReportContext context;
    for (const RegionEndpoint& r : regions) context.region_names.push_back(r.name);
    context.home_region = regions[0].name;
    context.latency_region = regions[workload.latency_region].name;
    context.isolated_region = regions[workload.isolated_region].name;

    std::printf("  ");
    for (const RegionEndpoint& r : regions)
        std::printf("%s on port %u   ", r.name.c_str(), r.client_port);
    std::printf("(cluster file %s)\n\n", cluster.config_path().c_str());
    std::printf(
        "One account per policy. %d clients per region deposit and withdraw 1..%lld at once for "
        "%.1f s;\n"
        "%s is cut off from both peers in the middle third, then healed. Seed %llu.\n\n",
        workload.clients_per_region, static_cast<long long>(workload.max_amount), workload.seconds,
        context.isolated_region.c_str(), static_cast<unsigned long long>(workload.seed));
    std::fflush(stdout);

    ProgressLine progress;
    std::vector<RowResult> rows;
    const auto accounts = demo_accounts(context.home_region);
    std::string failure;
    for (std::size_t i = 0; i < accounts.size() && !interrupted; ++i) {
        const std::string title = "[" + std::to_string(i + 1) + "/" +
                                  std::to_string(accounts.size()) + " " + accounts[i].label + "]";
        rows.push_back(
            run_row(cluster, accounts[i], workload, interrupted,
                    [&](const std::string& phase, double elapsed, const RowResult& so_far) {
                        progress.show(title, phase, elapsed, so_far);
                    }));
        progress.finish();
        if (failure = cluster.check_alive(); !failure.empty()) break;
    }

    std::printf("%s\n%s\n", format_table(rows, context).c_str(), explain(rows, context).c_str());
    bool all_converged = !rows.empty() && rows.size() == accounts.size();
    for (const RowResult& row : rows) all_converged = all_converged && row.converged;
    if (!failure.empty()) std::fprintf(stderr, "balance_demo: %s\n", failure.c_str());
    if (interrupted) std::fprintf(stderr, "balance_demo: interrupted\n");
    if (!all_converged && !interrupted)
        std::fprintf(stderr, "balance_demo: not every region converged\n");

    if (cluster_options.keep && failure.empty()) {
        cluster.keep_running();
        std::printf("The three regions keep serving (cluster file, data and logs in %s):\n",
                    cluster.directory().c_str());
        for (const RegionEndpoint& r : regions) {
            std::printf("  redis-cli -p %-5u   # %s\n", r.client_port, r.name.c_str());
        }
        std::printf("  e.g. redis-cli -p %u GET counter:acct1;  redis-cli -p %u MERIDIAN PEERS\n",
                    regions[1].client_port, regions[0].client_port);
        std::printf("Stop them: kill $(cut -d' ' -f1 %s)\n", cluster.pid_file().c_str());
        return all_converged ? 0 : 1;
    }
    if (std::string problems = cluster.stop(); !problems.empty()) {
        std::fprintf(stderr, "balance_demo: stopping the regions: %s", problems.c_str());
        return 1;
    }
    return all_converged && failure.empty() ? 0 : 1;
}
