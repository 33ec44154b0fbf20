// examples/regional_app: a region's HTTP account service over its local node. Real nodes and
// real app processes; requests over HTTP with Beast.
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "integration/harness.hpp"
#include "integration/http_client.hpp"

namespace {

using namespace meridian::test;

const std::string app_binary = MERIDIAN_BIN_DIR "/regional_app";

const std::string policies = R"(
[[policy]]
match = "bounded:*"
type = "bounded_counter"
min = 0

[[policy]]
match = "home:*"
type = "counter"
route = "home"
home = "{tag}"
min = 0

[[policy]]
match = "lww:*"
type = "lww"
)";

std::string account_json(const std::string& id, long long balance, const std::string& region) {
    return "{\"account\": \"" + id + "\", \"balance\": " + std::to_string(balance) +
           ", \"region\": \"" + region + "\"}\n";
}

// Regions with a regional_app next to each node, all serving one key pattern.
class AppCluster {
public:
    AppCluster(std::vector<std::string> regions, const std::string& key_pattern)
        : cluster_(regions, policies) {
        REQUIRE(is_executable(app_binary));
        cluster_.start_all();
        for (const std::string& region : regions) start_app(region, key_pattern);
    }

    Cluster& cluster() { return cluster_; }
    std::uint16_t port(const std::string& region) const { return apps_.at(region).port; }

    void start_app(const std::string& region, const std::string& key_pattern) {
        App app;
        app.port = free_port();
        app.log = cluster_.root() + "/app-" + region + ".log";
        auto process = Process::spawn(
            app_binary,
            {"--redis-port", std::to_string(cluster_.client_port(region)), "--listen",
             "127.0.0.1:" + std::to_string(app.port), "--key-pattern", key_pattern},
            app.log);
        REQUIRE(process);
        app.process = std::make_unique<Process>(std::move(*process));
        const bool up = eventually(
            [&] {
                return http_get(app.port, "/accounts/probe").status == 200 ||
                       !app.process->running();
            },
            10000);
        INFO(run_program("cat", {app.log}).second);
        REQUIRE(up);
        REQUIRE(app.process->running());
        apps_[region] = std::move(app);
    }

private:
    struct App {
        std::uint16_t port = 0;
        std::string log;
        std::unique_ptr<Process> process;
    };

    Cluster cluster_;  // destroyed after the apps: they are killed first
    std::map<std::string, App> apps_;
};

}  // namespace

TEST_CASE("the regional app deposits, withdraws and answers the balance as JSON") {
    AppCluster apps({"us-east", "eu-west"}, "bounded:{id}");
    const std::uint16_t app = apps.port("eu-west");

    CHECK(http_get(app, "/accounts/alice").body == account_json("alice", 0, "eu-west"));
    const HttpReply deposit = http_post(app, "/accounts/alice/deposit", R"({"amount": 25})");
    CHECK(deposit.status == 200);
    CHECK(deposit.body == account_json("alice", 25, "eu-west"));
    CHECK(deposit.header("Content-Type") == "application/json");
    const HttpReply withdraw = http_post(app, "/accounts/alice/withdraw", R"({"amount": 10})");
    CHECK(withdraw.status == 200);
    CHECK(withdraw.body == account_json("alice", 15, "eu-west"));
    const HttpReply balance = http_get(app, "/accounts/alice");
    CHECK(balance.status == 200);
    CHECK(balance.body == account_json("alice", 15, "eu-west"));

    // The account is the key the pattern names, in the local node.
    auto redis = apps.cluster().client("eu-west");
    CHECK(redis.command({"GET", "bounded:alice"}) == Reply::string("15"));
}

TEST_CASE("a withdrawal beyond the balance answers 409 Conflict and changes nothing") {
    AppCluster apps({"us-east"}, "bounded:{id}");
    const std::uint16_t app = apps.port("us-east");
    REQUIRE(http_post(app, "/accounts/bob/deposit", R"({"amount": 5})").status == 200);

    const HttpReply refused = http_post(app, "/accounts/bob/withdraw", R"({"amount": 6})");
    CHECK(refused.status == 409);
    CHECK(refused.body.find("insufficient balance") != std::string::npos);
    CHECK(http_get(app, "/accounts/bob").body == account_json("bob", 5, "us-east"));
    CHECK(http_post(app, "/accounts/bob/withdraw", R"({"amount": 5})").body ==
          account_json("bob", 0, "us-east"));
}

TEST_CASE("bad input answers 400, unknown paths 404 and wrong methods 405") {
    AppCluster apps({"us-east"}, "bounded:{id}");
    const std::uint16_t app = apps.port("us-east");

    for (const std::string body :
         {R"({"amount": 0})", R"({"amount": -5})", R"({"amount": 2.5})", R"({"amount": "lots"})",
          R"({"amount": 99999999999999999999})", R"({"sum": 5})", "amount=5", ""}) {
        CAPTURE(body);
        const HttpReply reply = http_post(app, "/accounts/carol/deposit", body);
        CHECK(reply.status == 400);
        CHECK(reply.body.find("\"error\"") != std::string::npos);
    }
    CHECK(http_post(app, "/accounts/bad%20id/deposit", R"({"amount": 5})").status == 400);
    CHECK(http_get(app, "/accounts/" + std::string(65, 'x')).status == 400);
    CHECK(http_get(app, "/accounts/").status == 400);
    CHECK(http_get(app, "/balances/carol").status == 404);
    CHECK(http_post(app, "/accounts/carol/steal", R"({"amount": 5})").status == 404);
    const HttpReply wrong = http_get(app, "/accounts/carol/deposit");
    CHECK(wrong.status == 405);
    CHECK(wrong.header("Allow") == "POST");
    CHECK(http_post(app, "/accounts/carol", R"({"amount": 5})").status == 405);
    // None of it wrote anything.
    CHECK(http_get(app, "/accounts/carol").body == account_json("carol", 0, "us-east"));
}

TEST_CASE("an error the node answers becomes 502 Bad Gateway") {
    AppCluster apps({"us-east"}, "lww:{id}");  // INCRBY on a register: WRONGTYPE
    const HttpReply reply =
        http_post(apps.port("us-east"), "/accounts/dave/deposit", R"({"amount": 5})");
    CHECK(reply.status == 502);
    CHECK(reply.body.find("WRONGTYPE") != std::string::npos);
}

TEST_CASE("two regions' app servers answer the same balance once the regions have talked") {
    AppCluster apps({"us-east", "eu-west"}, "bounded:{id}");
    REQUIRE(http_post(apps.port("us-east"), "/accounts/erin/deposit", R"({"amount": 30})").status ==
            200);
    REQUIRE(http_post(apps.port("eu-west"), "/accounts/erin/deposit", R"({"amount": 12})").status ==
            200);
    const bool converged = eventually(
        [&] {
            return http_get(apps.port("us-east"), "/accounts/erin").body ==
                       account_json("erin", 42, "us-east") &&
                   http_get(apps.port("eu-west"), "/accounts/erin").body ==
                       account_json("erin", 42, "eu-west");
        },
        10000);
    INFO("us-east: " << http_get(apps.port("us-east"), "/accounts/erin")
                     << "\neu-west: " << http_get(apps.port("eu-west"), "/accounts/erin"));
    CHECK(converged);
}

TEST_CASE("a withdrawal at a region holding no rights borrows them from a peer") {
    AppCluster apps({"us-east", "eu-west"}, "bounded:{id}");
    REQUIRE(
        http_post(apps.port("us-east"), "/accounts/gina/deposit", R"({"amount": 100})").status ==
        200);
    REQUIRE(eventually(
        [&] {
            return http_get(apps.port("eu-west"), "/accounts/gina").body ==
                   account_json("gina", 100, "eu-west");
        },
        10000));
    // eu-west deposited nothing, so it holds no rights: it asks us-east for some. Nothing else
    // happens in the cluster meanwhile, so nothing but the transfer can complete the request.
    const auto sent = std::chrono::steady_clock::now();
    const HttpReply withdraw =
        http_post(apps.port("eu-west"), "/accounts/gina/withdraw", R"({"amount": 30})");
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - sent);
    CAPTURE(took.count());
    CHECK(withdraw.body == account_json("gina", 70, "eu-west"));
    CHECK(took.count() < 2000);
}

TEST_CASE("a write whose home region is out of reach answers 503 with Retry-After") {
    AppCluster apps({"us-east", "eu-west"}, "home:{us-east}:{id}");
    auto us_east = apps.cluster().client("us-east");
    auto eu_west = apps.cluster().client("eu-west");
    REQUIRE(us_east.command({"MERIDIAN", "PAUSE", "eu-west"}) == Reply::string("OK"));
    REQUIRE(eu_west.command({"MERIDIAN", "PAUSE", "us-east"}) == Reply::string("OK"));

    const HttpReply reply =
        http_post(apps.port("eu-west"), "/accounts/frank/deposit", R"({"amount": 5})");
    CHECK(reply.status == 503);
    CHECK(reply.header("Retry-After") == "1");
    CHECK(reply.body.find("TRYAGAIN") != std::string::npos);
    // At the home itself the write goes through, partition or not.
    CHECK(http_post(apps.port("us-east"), "/accounts/frank/deposit", R"({"amount": 5})").body ==
          account_json("frank", 5, "us-east"));
}
