// meridian-chaos: a Jepsen-style run against real meridian-node processes. Three regions behind
// fault proxies, clients at every region, random faults; then heal, converge and check that no
// acknowledged write was lost and nothing appeared that no client wrote.
//
//   meridian-chaos [--seed N] [--duration SECONDS] [--fsync always|everysec|no]
//                  [--clients PER_REGION] [--rate OPS_PER_CLIENT] [--home on|off|auto] [--quiet]
//
// Prints a timeline of faults and a summary (seed, operations by outcome, faults, violations);
// exits 0 when there is no violation, 1 otherwise, 2 for a bad command line. The seed fixes the
// workload's and the faults' choices; thread and network timing still vary between runs.
// Nodes come from $MERIDIAN_NODE_BIN or this build's bin folder (see
// tests/integration/harness.hpp).
#define CATCH_CONFIG_RUNNER
#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>

#include "run.hpp"

namespace {

meridian::chaos::RunOptions options;
meridian::chaos::RunResult result;

}  // namespace

// The harness reports start-up failures through Catch2 (FAIL), so the run is one test case.
TEST_CASE("a chaos run loses no acknowledged write and converges") {
    result = meridian::chaos::run_chaos(options);
    std::printf("\n%s", result.summary.c_str());
    std::fflush(stdout);
    CHECK(result.violation_count == 0);
}

int main(int argc, char** argv) {
    CLI::App app{
        "meridian-chaos: faults against a three-region Meridian cluster, checked against a model"};
    options.seed =
        static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) %
        1000000;
    app.add_option("--seed", options.seed,
                   "seed for the workload and the faults (default: from the clock)");
    app.add_option("--duration", options.duration_s,
                   "seconds of load and faults (then heal and check)")
        ->check(CLI::Range(1.0, 86400.0));
    app.add_option("--fsync", options.fsync, "the cluster's fsync mode")
        ->check(CLI::IsMember({"always", "everysec", "no"}));
    app.add_option("--clients", options.clients_per_region, "clients per region")
        ->check(CLI::Range(1, 32));
    app.add_option("--rate", options.ops_per_second, "operations per second per client, at most")
        ->check(CLI::Range(1.0, 100000.0));
    app.add_option("--home", options.home,
                   "home-routed keys: on, off, or auto (on if the node forwards)")
        ->check(CLI::IsMember({"on", "off", "auto"}));
    app.add_option("--converge-timeout", options.converge_timeout_s,
                   "seconds to wait for convergence")
        ->check(CLI::Range(1, 3600));
    bool quiet = false;
    app.add_flag("--quiet", quiet, "no fault timeline, only the summary");
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }
    options.verbose = !quiet;

    Catch::Session session;
    const char* catch_args[] = {argv[0], "--use-colour", "no"};
    if (session.applyCommandLine(3, catch_args) != 0) return 2;
    const int failed = session.run();
    return failed == 0 && result.violation_count == 0 ? 0 : 1;
}
