// RightsHandover: the heir's sweep. Once a retired replica is ready to be handed over here
// (conflict/home_table.hpp, Retirement; Database::heir_of), every bounded counter in which it
// still has a stake gets a write that hands it over (conflict::hand_over_rights), so that every
// region counts the frozen part and the rights show at the heir, whether or not anyone writes
// the key. A bounded-counter write at the heir hands its key over first anyway, so the sweep
// only has to reach the keys nobody writes. It visits the keyspace in small steps, so that
// client commands run in between. Event-loop thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>

#include "node/database.hpp"

namespace meridian::node {

class RightsHandover {
public:
    RightsHandover(boost::asio::io_context& io, Database& db);
    ~RightsHandover();

    // Sweeps the whole keyspace (again, if a sweep runs: it restarts from the beginning).
    void sweep();
    std::uint64_t keys_handed_over() const { return keys_handed_over_; }
    bool sweeping() const { return sweeping_; }

private:
    void step();

    Database& db_;
    boost::asio::steady_timer timer_;
    std::uint64_t cursor_ = 0;
    bool sweeping_ = false;
    std::uint64_t keys_handed_over_ = 0;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meridian::node
