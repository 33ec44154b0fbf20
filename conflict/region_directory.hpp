// RegionDirectory: the cluster's regions, id <-> name, as the cluster file
// declares them. Built once at start-up, then read-only: any thread may read
// it concurrently.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crdt/expected.hpp"
#include "crdt/ids.hpp"

namespace meridian::conflict {

struct RegionEntry {
    crdt::RegionId id = 0;
    std::string name;

    friend bool operator==(const RegionEntry&, const RegionEntry&) = default;
};

class RegionDirectory {
public:
    // Refuses id 0, an empty name, and an id or a name already present (the
    // error says which), leaving the directory unchanged. The cluster file's
    // loader checks these first to word its own messages; this is the backstop.
    Expected<void, std::string> add(crdt::RegionId id, std::string name);

    std::optional<crdt::RegionId> id_of(std::string_view name) const;
    // "" for an unknown id.
    std::string_view name_of(crdt::RegionId id) const;

    // Sorted by id.
    std::span<const RegionEntry> entries() const { return entries_; }
    std::size_t size() const { return entries_.size(); }
    bool empty() const { return entries_.empty(); }

    friend bool operator==(const RegionDirectory&, const RegionDirectory&) = default;

private:
    std::vector<RegionEntry> entries_;  // sorted by id; a cluster has a handful
};

}  // namespace meridian::conflict
