#include "node/rights_handover.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <string>
#include <vector>

namespace meridian::node {

namespace {

constexpr std::size_t kKeysPerStep = 512;

}  // namespace

RightsHandover::RightsHandover(boost::asio::io_context& io, Database& db) : db_(db), timer_(io) {}

RightsHandover::~RightsHandover() {
    alive_.reset();
}

void RightsHandover::sweep() {
    cursor_ = 0;
    if (sweeping_) return;  // the running sweep starts over at its next step
    sweeping_ = true;
    step();
}

void RightsHandover::step() {
    conflict::Writer probe{db_.self(), {}, db_.floor_holder()};
    probe.retiring = db_.retiring();
    probe.heir_of = db_.heir_of();
    std::vector<std::string> keys;
    cursor_ = db_.keyspace().scan(cursor_, kKeysPerStep,
                                  [&](std::string_view key, const crdt::Value& value) {
                                      if (value.type() == crdt::ValueType::bounded_counter &&
                                          conflict::needs_handover(value, db_.policy(key), probe))
                                          keys.emplace_back(key);
                                  });
    for (const std::string& key : keys) {
        const conflict::Policy& policy = db_.policy(key);
        if (policy.type != crdt::ValueType::bounded_counter) continue;  // its policy changed
        Database::KeyWrite write{key, [&](crdt::Value& state, const conflict::Writer& writer) {
                                     return conflict::hand_over_rights(state, policy, writer);
                                 }};
        auto written = db_.write(std::span(&write, 1),
                                 [](const Database::Committed&) { return std::string(); });
        if (!written) {
            if (written.error().kind == WriteError::Kind::log_failed)
                spdlog::warn("handing over bounded-counter rights of '{}' failed: {}",
                             key.substr(0, 128), written.error().message);
            continue;
        }
        ++keys_handed_over_;
    }
    if (cursor_ == 0) {
        sweeping_ = false;
        spdlog::info("bounded-counter rights handed over: {} key(s) so far", keys_handed_over_);
        return;
    }
    timer_.expires_after(std::chrono::milliseconds(1));
    timer_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](auto error) {
        if (!error && alive.lock()) step();
    });
}

}  // namespace meridian::node
