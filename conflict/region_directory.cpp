#include "conflict/region_directory.hpp"

#include <algorithm>

namespace meridian::conflict {

Expected<void, std::string> RegionDirectory::add(crdt::RegionId id, std::string name) {
    if (id == 0) return unexpected(std::string("region id 0 is reserved"));
    if (name.empty()) return unexpected(std::string("region name is empty"));
    if (auto taken = name_of(id); !taken.empty()) {
        return unexpected("region id " + std::to_string(id) + " is already " + std::string(taken));
    }
    if (auto taken = id_of(name)) {
        return unexpected("region name " + name + " is already id " + std::to_string(*taken));
    }
    auto at = std::lower_bound(entries_.begin(), entries_.end(), id,
                               [](const RegionEntry& e, crdt::RegionId v) { return e.id < v; });
    entries_.insert(at, RegionEntry{id, std::move(name)});
    return {};
}

std::optional<crdt::RegionId> RegionDirectory::id_of(std::string_view name) const {
    for (const RegionEntry& e : entries_) {
        if (e.name == name) return e.id;
    }
    return std::nullopt;
}

std::string_view RegionDirectory::name_of(crdt::RegionId id) const {
    auto at = std::lower_bound(entries_.begin(), entries_.end(), id,
                               [](const RegionEntry& e, crdt::RegionId v) { return e.id < v; });
    if (at == entries_.end() || at->id != id) return {};
    return at->name;
}

}  // namespace meridian::conflict
