// The status page (GET / on the admin listener) in a real browser: headless Chromium loads it
// from a live three-region cluster, runs its script against /status, and the test reads the DOM
// it built. A screenshot of each state goes to <build>/test-artifacts/status-page/ (not
// committed). scripts/bootstrap.sh installs Debian's chromium.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.hpp"

namespace {

using namespace meridian::test;

const std::string config = R"(
heartbeat_ms = 100
peer_timeout_ms = 1000
reconnect_min_ms = 50
reconnect_max_ms = 500

[[policy]]
match = "acct:*"
type = "counter"
route = "home"
home = "{tag}"
min = 0
)";

const std::string artifacts = std::string(MERIDIAN_BIN_DIR) + "/../test-artifacts/status-page";

// The page after its script has polled /status a few times (virtual time lets its timers run
// without waiting), as the DOM it built; a PNG of it too when `screenshot` names one.
std::string load_page(std::uint16_t admin_port, const TempDir& profile,
                      const std::string& screenshot = {}) {
    std::vector<std::string> args = {"--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--disable-dev-shm-usage",  // containers with a small /dev/shm
                                     "--user-data-dir=" + profile.path(),
                                     "--virtual-time-budget=2500",
                                     "--window-size=1280,1100"};
    if (screenshot.empty())
        args.push_back("--dump-dom");
    else
        args.push_back("--screenshot=" + artifacts + "/" + screenshot);
    args.push_back("http://127.0.0.1:" + std::to_string(admin_port) + "/");
    auto [status, output] = run_program("chromium", args, 60000);
    INFO("chromium printed:\n" << output);
    REQUIRE(status == 0);
    return output;
}

// The attributes of the page's row for `peer`, or nullopt when the page shows no such row.
struct PeerRow {
    std::string state;
    long long lag_ms = -1;
    long long lag_records = -1;
};

// The text between `open` (from `from` on) and the next `close`; empty when absent.
std::string between(const std::string& text, const std::string& open, char close,
                    std::size_t from = 0) {
    const auto at = text.find(open, from);
    if (at == std::string::npos) return {};
    const auto start = at + open.size();
    return text.substr(start, text.find(close, start) - start);
}

std::optional<PeerRow> row_of(const std::string& dom, const std::string& peer) {
    const auto at = dom.find("<tr data-peer=\"" + peer + "\"");
    if (at == std::string::npos) return std::nullopt;
    const std::string tag = dom.substr(at, dom.find('>', at) - at);
    PeerRow row;
    row.state = between(tag, "data-state=\"", '"');
    row.lag_ms = std::stoll("0" + between(tag, "data-lag-ms=\"", '"'));
    row.lag_records = std::stoll("0" + between(tag, "data-lag-records=\"", '"'));
    return row;
}

// The text inside the element with this id (up to its first child).
std::string text_of(const std::string& dom, const std::string& id) {
    const auto at = dom.find("id=\"" + id + "\"");
    return at == std::string::npos ? std::string() : between(dom, ">", '<', at);
}

}  // namespace

TEST_CASE("the status page shows a paused link's lag growing, then the link recovering") {
    INFO("headless Chromium runs this test: scripts/bootstrap.sh installs Debian's chromium");
    REQUIRE(run_program("chromium", {"--version"}, 30000).first == 0);
    std::filesystem::create_directories(artifacts);
    Cluster cluster({"us-east", "eu-west", "ap-south"}, config);
    cluster.start_all();
    const std::uint16_t admin = cluster.spec("us-east").admin_port;
    RedisClient us = cluster.client("us-east");
    TempDir profile;

    // Every link up: both peers connected with nothing outstanding.
    REQUIRE(eventually(
        [&] {
            const std::string dom = load_page(admin, profile);
            const auto eu_row = row_of(dom, "eu-west"), ap_row = row_of(dom, "ap-south");
            return eu_row && ap_row && eu_row->state == "connected" &&
                   ap_row->state == "connected" && text_of(dom, "links-up") == "2 / 2";
        },
        20000));
    const std::string healthy = load_page(admin, profile);
    CHECK(text_of(healthy, "region") == "us-east");
    CHECK(text_of(healthy, "wal-state") == "ok");
    CHECK(healthy.find("acct:*") != std::string::npos);  // the home-routed policy
    load_page(admin, profile, "1-connected.png");

    // A partition: eu-west cut off from both regions (ap-south would relay us-east's writes to
    // it otherwise), while us-east keeps taking writes.
    for (auto [a, b] : {std::pair{"us-east", "eu-west"}, std::pair{"ap-south", "eu-west"}}) {
        REQUIRE(cluster.client(a).command({"MERIDIAN", "PAUSE", b}) == Reply::string("OK"));
        REQUIRE(cluster.client(b).command({"MERIDIAN", "PAUSE", a}) == Reply::string("OK"));
    }
    for (int i = 0; i < 20; ++i)
        REQUIRE(us.command({"SET", "k" + std::to_string(i), "v"}) == Reply::string("OK"));
    // Written at eu-west too, after us-east: its later stamp wins, and us-east's write is lost.
    REQUIRE(cluster.client("eu-west").command({"SET", "k0", "eu"}) == Reply::string("OK"));
    const std::string cut = load_page(admin, profile);
    const auto before = row_of(cut, "eu-west");
    REQUIRE(before.has_value());
    CHECK(before->state == "paused");
    CHECK(before->lag_records >= 20);
    CHECK(text_of(cut, "links-up") == "1 / 2");
    CHECK(row_of(cut, "ap-south")->state == "connected");
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const std::string later = load_page(admin, profile);
    const auto after = row_of(later, "eu-west");
    REQUIRE(after.has_value());
    CHECK(after->state == "paused");
    CHECK(after->lag_ms > before->lag_ms);  // the oldest unacknowledged write keeps ageing
    CHECK(after->lag_records >= before->lag_records);
    load_page(admin, profile, "2-paused.png");

    // Healed: the link comes back and the lag drains to nothing.
    for (auto [a, b] : {std::pair{"us-east", "eu-west"}, std::pair{"ap-south", "eu-west"}}) {
        REQUIRE(cluster.client(a).command({"MERIDIAN", "RESUME", b}) == Reply::string("OK"));
        REQUIRE(cluster.client(b).command({"MERIDIAN", "RESUME", a}) == Reply::string("OK"));
    }
    REQUIRE(eventually(
        [&] {
            const auto row = row_of(load_page(admin, profile), "eu-west");
            return row && row->state == "connected" && row->lag_records == 0 && row->lag_ms == 0;
        },
        20000));
    // The loss shows in the conflict counts.
    const std::string label = "LWW writes of this region lost to a concurrent write";
    REQUIRE(eventually(
        [&] {
            const std::string dom = load_page(admin, profile);
            const std::size_t at = dom.find(label);
            const std::size_t dd = dom.find("<dd>", at);
            return at != std::string::npos && dd != std::string::npos &&
                   dom.compare(dd + 4, 6, "1</dd>") == 0;
        },
        20000));
    load_page(admin, profile, "3-recovered.png");
}
