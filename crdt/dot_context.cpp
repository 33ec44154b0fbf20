#include "crdt/dot_context.hpp"

#include <algorithm>
#include <iterator>
#include <limits>

namespace meridian::crdt {

bool DotContext::contains(const Dot& dot) const {
    return prefix_.contains(dot) || cloud_.contains(dot);
}

Dot DotContext::make_dot(ReplicaId replica) {
    // A replica's own dots are normally contiguous in its own context; looking
    // at the cloud too keeps a new dot unique even if they are not.
    std::uint64_t highest = prefix_.get(replica);
    auto after = cloud_.upper_bound(Dot{replica, std::numeric_limits<std::uint64_t>::max()});
    if (after != cloud_.begin() && std::prev(after)->replica == replica)
        highest = std::max(highest, std::prev(after)->seq);
    Dot dot{replica, highest + 1};
    insert(dot);
    compact();
    return dot;
}

void DotContext::insert(const Dot& dot) {
    if (!prefix_.contains(dot)) cloud_.insert(dot);
}

void DotContext::join(const DotContext& other) {
    prefix_.merge(other.prefix_);
    cloud_.insert(other.cloud_.begin(), other.cloud_.end());
    compact();
}

void DotContext::compact() {
    // The cloud is sorted by (replica, seq), so one pass extends each prefix.
    for (auto it = cloud_.begin(); it != cloud_.end();) {
        auto known = prefix_.get(it->replica);
        if (it->seq == known + 1) {
            prefix_.advance(it->replica, it->seq);
            it = cloud_.erase(it);
        } else if (it->seq <= known) {
            it = cloud_.erase(it);
        } else {
            ++it;
        }
    }
}

}  // namespace meridian::crdt
