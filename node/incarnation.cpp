#include "node/incarnation.hpp"

#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "storage/file_copy.hpp"

namespace meridian::node {

namespace {

constexpr const char* incarnation_file = "incarnation";
constexpr const char* clean_file = "clean_shutdown";

std::string mode_name(FsyncMode mode) {
    switch (mode) {
        case FsyncMode::always:
            return "always";
        case FsyncMode::everysec:
            return "everysec";
        case FsyncMode::no:
            return "no";
    }
    return "no";
}

// "key=value" lines; unknown keys are ignored so the format can grow.
std::map<std::string, std::string> parse_lines(const std::string& text) {
    std::map<std::string, std::string> fields;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq != std::string::npos) fields[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return fields;
}

bool exists(Env& env, const std::string& path) {
    return env.file_size(path).has_value();
}

}  // namespace

std::string current_boot_id() {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    std::getline(in, id);
    return id;
}

Expected<Incarnation, std::string> begin_incarnation(Env& env, const std::string& data_dir,
                                                     crdt::RegionId region, FsyncMode fsync,
                                                     const crdt::VersionVector& recovered,
                                                     bool wal_repaired,
                                                     std::uint16_t retired_below) {
    const std::string path = join_path(data_dir, incarnation_file);
    const std::string clean_path = join_path(data_dir, clean_file);
    const std::string boot_id = current_boot_id();

    // The highest epoch of this region that the data knows of.
    std::optional<std::uint16_t> seen;
    for (const auto& e : recovered.entries())
        if (e.replica.region == region) seen = std::max(seen.value_or(0), e.replica.epoch);

    std::optional<std::map<std::string, std::string>> previous;
    std::uint16_t recorded = 0;
    if (exists(env, path)) {
        auto text = env.read_file(path);
        if (!text) return unexpected(text.error());
        previous = parse_lines(*text);
        try {
            const unsigned long epoch = std::stoul(previous->at("epoch"));
            if (epoch > std::numeric_limits<std::uint16_t>::max()) throw std::out_of_range("epoch");
            recorded = static_cast<std::uint16_t>(epoch);
        } catch (const std::exception&) {
            previous.reset();  // unreadable: decided from the data alone, conservatively
        }
    }
    const std::uint16_t base = std::max<std::uint16_t>(recorded, seen.value_or(0));

    // Both ways to a new epoch refuse rather than wrap to 0, which this region already used.
    const bool exhausted = base == std::numeric_limits<std::uint16_t>::max();
    const std::string exhausted_error = "region has used every epoch (65535): cannot start safely";

    Incarnation result;
    if (!previous && !seen) {
        result = {0, "a new data directory"};
    } else if (wal_repaired) {
        if (exhausted) return unexpected(exhausted_error);
        result = {static_cast<std::uint16_t>(base + 1),
                  "the WAL was repaired and records after the corruption dropped: peers may hold "
                  "them, so this region continues as a new epoch"};
    } else if (!previous) {
        if (exhausted) return unexpected(exhausted_error);
        result = {static_cast<std::uint16_t>(base + 1),
                  "the incarnation file is missing or unreadable: starting a new epoch to be safe"};
    } else if (exists(env, clean_path)) {
        result = {base, "the previous run shut down cleanly"};
    } else if ((*previous)["fsync"] == "always") {
        result = {
            base,
            "the previous run stopped uncleanly under fsync = always: nothing unsynced left it"};
    } else if (!boot_id.empty() && (*previous)["boot_id"] == boot_id) {
        result = {
            base,
            "the previous process died but the machine did not restart: the OS kept its writes"};
    } else {
        if (exhausted) return unexpected(exhausted_error);
        result = {static_cast<std::uint16_t>(base + 1),
                  "the machine restarted after an unclean shutdown under fsync = " +
                      (*previous)["fsync"] +
                      ": writes its peers hold may be lost here, so this region "
                      "continues as a new epoch"};
    }

    if (result.epoch < retired_below) {
        result = {retired_below,
                  "a failover retired this region's epoch " + std::to_string(retired_below - 1) +
                      " and handed its bounded-counter rights to another region, so this region "
                      "continues as a new epoch"};
    }

    const std::string contents = "epoch=" + std::to_string(result.epoch) +
                                 "\nfsync=" + mode_name(fsync) + "\nboot_id=" + boot_id + "\n";
    if (auto r = write_file_durably(env, path, contents); !r) return unexpected(r.error());
    if (exists(env, clean_path)) {
        if (auto r = env.remove_file(clean_path); !r) return unexpected(r.error());
        if (auto r = env.sync_dir(data_dir); !r) return unexpected(r.error());
    }
    return result;
}

Expected<void, std::string> mark_clean_shutdown(Env& env, const std::string& data_dir) {
    return write_file_durably(env, join_path(data_dir, clean_file), "clean\n");
}

}  // namespace meridian::node
