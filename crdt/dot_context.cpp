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
    // Only a replica's lowest cloud dots can join its prefix, so look at those and jump to the
    // next replica: O(replicas * log cloud + dots moved), not O(cloud). A delta joined from many
    // writes (a batch) keeps a large cloud that never touches its prefix; walking it whole on
    // every join made joining a batch quadratic in its size.
    for (auto it = cloud_.begin(); it != cloud_.end();) {
        const ReplicaId replica = it->replica;
        const std::uint64_t known = prefix_.get(replica);
        std::uint64_t reached = known;
        while (it != cloud_.end() && it->replica == replica && it->seq <= reached + 1) {
            reached = std::max(reached, it->seq);
            it = cloud_.erase(it);
        }
        if (reached != known) prefix_.advance(replica, reached);
        if (it != cloud_.end() && it->replica == replica)
            it = cloud_.upper_bound(Dot{replica, std::numeric_limits<std::uint64_t>::max()});
    }
}

}  // namespace meridian::crdt
