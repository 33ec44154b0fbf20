// meridian-node: one region of a Meridian cluster.
//
//   meridian-node --config cluster.toml --region us-east [--data-dir DIR] ...
//   meridian-node backup --config cluster.toml --region us-east --to DIR
//   meridian-node restore --config cluster.toml --from BACKUP [--archive DIR]
//                 [--to TIME | --to-vv VV] [--as-cluster NAME] (--data-dir DIR | --check)
//
// Exit codes: 0 after a clean shutdown (SIGTERM, SIGINT), a backup or a
// restore; 2 for a wrong command line or cluster file, a backup that failed or
// one that cannot be restored; 1 when the node cannot start or fails.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <optional>
#include <filesystem>
#include <string_view>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "node/backup_client.hpp"
#include "node/node.hpp"
#include "node/restore.hpp"

using meridian::node::ClusterConfig;
using meridian::node::FsyncMode;

namespace {

// Parses the command line; for --help or a bad command line, the exit code to return.
std::optional<int> parse(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        app.exit(e);
        return 2;
    }
    return std::nullopt;
}

// One line on stderr, exit status 2: what backup and restore answer to anything wrong.
int fail(const char* command, const std::string& message) {
    std::fprintf(stderr, "meridian-node %s: %s\n", command, message.c_str());
    return 2;
}

int backup_main(int argc, char** argv) {
    CLI::App app{"meridian-node backup: back up a running region (MERIDIAN BACKUP over its client port)"};
    std::string config_path, region, dir;
    app.add_option("--config", config_path, "cluster file (TOML)")->required();
    app.add_option("--region", region, "the region to back up")->required();
    app.add_option("--to", dir, "the backup directory (created; must be empty)")->required();
    if (auto exit_code = parse(app, argc, argv)) return *exit_code;
    auto loaded = meridian::node::load_cluster_config(config_path);
    if (!loaded) return fail("backup", loaded.error());
    const auto* own = loaded->find_region(region);
    if (!own) return fail("backup", config_path + ": no region named \"" + region + "\"");
    // The node resolves the path from its own working directory.
    std::error_code ec;
    const std::string absolute = std::filesystem::absolute(dir, ec).string();
    auto answer = meridian::node::request_backup(own->client_listen, loaded->requirepass, ec ? dir : absolute);
    if (!answer) return fail("backup", answer.error());
    std::printf("%s\n", answer->c_str());
    return 0;
}

int restore_main(int argc, char** argv) {
    CLI::App app{"meridian-node restore: rebuild a data directory from a backup (and the WAL archive)"};
    std::string config_path, to, to_vv;
    meridian::node::RestoreOptions options;
    app.add_option("--config", config_path, "the cluster file the backup was taken under")->required();
    app.add_option("--from", options.backup_dir, "the backup directory (MERIDIAN BACKUP's)")->required();
    app.add_option("--archive", options.archive_dir, "the region's WAL archive, to restore past the backup");
    app.add_option("--to", to, "stop at this time: RFC 3339 (2026-12-04T17:38:15.123Z) or Unix milliseconds");
    app.add_option("--to-vv", to_vv, "stop at this version vector (MERIDIAN VV's form: us-east.0:17 ...)");
    app.add_option("--as-cluster", options.as_cluster, "the restored data's cluster name (default <cluster>-restored)");
    auto* data_dir = app.add_option("--data-dir", options.data_dir,
                                    "the data directory to create (must not exist or be empty)");
    app.add_flag("--check", options.check_only,
                 "verify the backup (and archive) and replay it to the target, but write nothing");
    if (auto exit_code = parse(app, argc, argv)) return *exit_code;
    if (!options.check_only && data_dir->count() == 0) return fail("restore", "--data-dir is required (or --check)");
    auto loaded = meridian::node::load_cluster_config(config_path);
    if (!loaded) return fail("restore", loaded.error());
    options.config = &*loaded;
    if (!to.empty()) {
        auto time = meridian::node::parse_restore_time(to);
        if (!time) return fail("restore", time.error());
        options.to.unix_ms = *time;
    }
    if (!to_vv.empty()) {
        auto vv = meridian::node::parse_version_vector(to_vv, loaded->directory);
        if (!vv) return fail("restore", vv.error());
        options.to.vv = std::move(*vv);
    }
    auto report = meridian::node::restore_backup(meridian::node::default_env(), options);
    if (!report) return fail("restore", report.error());
    std::printf(
        "%s region %s of cluster %s into %s as cluster %s: %llu keys, %llu records replayed "
        "(%llu archive segments), up to lsn %llu%s, version vector %s\n",
        options.check_only ? "checked: would restore" : "restored", report->manifest.region.c_str(),
        report->manifest.cluster.c_str(), options.check_only ? "a data directory" : options.data_dir.c_str(),
        report->as_cluster.c_str(), static_cast<unsigned long long>(report->keys),
        static_cast<unsigned long long>(report->records_applied),
        static_cast<unsigned long long>(report->archive_segments),
        static_cast<unsigned long long>(report->end_lsn),
        report->last_unix_ms ? (", last write at " + meridian::node::format_unix_ms(*report->last_unix_ms)).c_str()
                             : "",
        report->vv.to_string().c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string_view(argv[1]) == "backup") return backup_main(argc - 1, argv + 1);
    if (argc > 1 && std::string_view(argv[1]) == "restore") return restore_main(argc - 1, argv + 1);
    CLI::App app{"meridian-node: one region of a Meridian geo-replicated store"};
    std::string config_path, region, data_dir, archive_dir, client_listen, admin_listen, peer_listen, fsync, log_level;
    bool repair_wal = false;
    app.add_option("--config", config_path, "cluster file (TOML)")->required();
    app.add_option("--region", region, "this node's region name, as in the cluster file")->required();
    app.add_option("--data-dir", data_dir, "override the region's data_dir");
    app.add_option("--archive-dir", archive_dir, "override the region's archive_dir (WAL archiving)");
    app.add_option("--client-listen", client_listen, "override the region's client_listen (host:port)");
    app.add_option("--admin-listen", admin_listen, "override the region's admin_listen (host:port)");
    app.add_option("--peer-listen", peer_listen, "override the region's peer_listen (host:port)");
    app.add_option("--fsync", fsync, "override fsync")->check(CLI::IsMember({"always", "everysec", "no"}));
    app.add_option("--log-level", log_level, "override log_level")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
    app.add_flag("--repair-wal", repair_wal,
                 "truncate the WAL at a corrupt record instead of refusing to start (drops what follows)");
    if (auto exit_code = parse(app, argc, argv)) return *exit_code;

    auto loaded = meridian::node::load_cluster_config(config_path);
    if (!loaded) {
        std::fprintf(stderr, "meridian-node: %s\n", loaded.error().c_str());
        return 2;
    }
    ClusterConfig config = std::move(*loaded);
    auto* own = const_cast<meridian::node::RegionConfig*>(config.find_region(region));
    if (!own) {
        std::string names;
        for (const auto& r : config.regions) names += (names.empty() ? "" : ", ") + r.name;
        std::fprintf(stderr, "meridian-node: %s: no region named \"%s\" (regions: %s)\n", config_path.c_str(),
                     region.c_str(), names.c_str());
        return 2;
    }
    if (!data_dir.empty()) own->data_dir = data_dir;
    if (!archive_dir.empty()) own->archive_dir = archive_dir;
    if (!client_listen.empty()) own->client_listen = client_listen;
    if (!admin_listen.empty()) own->admin_listen = admin_listen;
    if (!peer_listen.empty()) own->peer_listen = peer_listen;
    if (!fsync.empty())
        config.fsync = fsync == "always" ? FsyncMode::always : fsync == "everysec" ? FsyncMode::everysec : FsyncMode::no;
    if (!log_level.empty()) config.log_level = log_level;

    auto logger = spdlog::stderr_color_mt("meridian");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [" + region + "] %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::from_str(config.log_level));

    meridian::node::Node node({std::move(config), region, repair_wal});
    try {
        if (auto ran = node.run(); !ran) {
            spdlog::critical("cannot start: {}", ran.error());
            return 1;
        }
    } catch (const std::exception& e) {
        spdlog::critical("stopped by an unexpected error: {}", e.what());
        return 1;
    }
    return 0;
}
