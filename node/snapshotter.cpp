#include "node/snapshotter.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <spdlog/spdlog.h>

#include "crdt/serialization.hpp"
#include "node/background.hpp"
#include "storage/snapshot_file.hpp"
#include "replication/record_format.hpp"

namespace meridian::node {

namespace {

constexpr std::size_t chunk_bytes = 1u << 20;      // raw bytes per snapshot chunk
constexpr int max_chunks_in_flight = 4;            // bounds the memory a slow disk can pin
// How long one step may hold the event loop: copying a 1 MiB chunk's states in
// one go held it for ~11 ms, and a backup of 1M keys put that into the p99 of
// every client (docs/BENCHMARKS.md, "Writes during a backup").
constexpr auto step_budget = std::chrono::microseconds(1000);

// A chunk is the encoding of a std::vector<replication::KeyDelta>: a varint
// count, then each key and its state. Encoding them straight from the keyspace
// saves copying every state first (most of a snapshot's time on the loop).
class ChunkEncoder {
public:
    explicit ChunkEncoder(std::string& body) : archive_(body) {}
    void add(std::string_view key, const crdt::Value& value) {
        archive_(cereal::make_size_tag(static_cast<cereal::size_type>(key.size())));
        archive_(cereal::binary_data(key.data(), key.size()));
        archive_(value);
    }

private:
    crdt::CompactOutputArchive archive_;
};

std::string seal_chunk(std::uint64_t count, std::string_view body) {
    std::string chunk;
    chunk.reserve(body.size() + 10);
    crdt::CompactOutputArchive(chunk).write_varint(count);
    chunk.append(body);
    return chunk;
}

}  // namespace

template <class Archive>
void serialize(Archive& ar, SnapshotMeta& m) {
    ar(m.lsn, m.vv, m.catchup_floor);
}

std::string encode_snapshot_meta(const SnapshotMeta& meta) { return crdt::encode(meta); }

Expected<SnapshotMeta, std::string> decode_snapshot_meta(std::string_view bytes) {
    return crdt::decode<SnapshotMeta>(bytes);
}

struct Snapshotter::Run {
    SnapshotMeta meta;
    std::optional<SnapshotWriter> writer;  // used by the worker thread once open
    std::uint64_t cursor = 0;
    bool scanned = false;
    std::string pending;  // the encoded states of the chunk being gathered
    std::uint64_t pending_states = 0;
    int chunks_in_flight = 0;              // loop thread only
    std::string error;                     // loop thread only
    Done done;
    std::uint64_t started_ms = 0;
    boost::asio::steady_timer wait;
    explicit Run(boost::asio::io_context& io) : wait(io) {}
};

Snapshotter::Snapshotter(Env& env, boost::asio::io_context& io, std::string dir, Keyspace& keyspace,
                         LogStore& log, std::function<std::uint64_t()> now_ms)
    : env_(env), io_(io), dir_(std::move(dir)), keyspace_(keyspace), log_(log), now_ms_(std::move(now_ms)) {
    run_in_background(writer_);
}

Snapshotter::~Snapshotter() {
    alive_.reset();
    writer_.join();
}

std::string encode_snapshot_chunk(const Keyspace& keyspace, std::uint64_t& cursor) {
    std::string body;
    ChunkEncoder encoder(body);
    std::uint64_t count = 0;
    do {
        cursor = keyspace.scan(cursor, 256, [&](std::string_view key, const crdt::Value& value) {
            encoder.add(key, value);
            ++count;
        });
    } while (cursor != 0 && body.size() < chunk_bytes);
    return seal_chunk(count, body);
}

Expected<std::string, std::string> write_snapshot(Env& env, const std::string& dir,
                                                  const SnapshotMeta& meta, const Keyspace& keyspace) {
    auto writer = SnapshotWriter::open(env, dir, meta.lsn, encode_snapshot_meta(meta));
    if (!writer) return unexpected(writer.error());
    std::uint64_t cursor = 0;
    do {
        if (auto written = writer->add_chunk(encode_snapshot_chunk(keyspace, cursor)); !written)
            return unexpected(written.error());
    } while (cursor != 0);
    return writer->finish();
}

void Snapshotter::start(Done done) {
    if (running_) return done(unexpected(std::string("a snapshot is already running")));
    auto run = std::make_shared<Run>(io_);
    run->meta = SnapshotMeta{log_.appended_lsn(), log_.version_vector(), log_.catchup_floor()};
    run->done = std::move(done);
    run->started_ms = now_ms_();
    auto writer = SnapshotWriter::open(env_, dir_, run->meta.lsn, encode_snapshot_meta(run->meta));
    if (!writer) {
        ++stats_.failed;
        stats_.last_error = writer.error();
        return run->done(unexpected(writer.error()));
    }
    run->writer.emplace(std::move(*writer));
    running_ = run;
    step(run);
}

void Snapshotter::step(std::shared_ptr<Run> run) {
    if (running_ != run) return;  // abandoned for a shutdown snapshot
    if (!run->error.empty()) return finish(run);
    if (run->chunks_in_flight >= max_chunks_in_flight || (run->scanned && run->chunks_in_flight > 0)) {
        run->wait.expires_after(std::chrono::milliseconds(5));
        run->wait.async_wait([this, run, alive = std::weak_ptr<bool>(alive_)](auto error) {
            if (!error && alive.lock()) step(run);
        });
        return;
    }
    if (run->scanned) return finish(run);

    // Encode states for at most step_budget, then let clients in (the keyspace
    // changes between steps: the snapshot is fuzzy). Compressing and writing
    // happen on the writer thread.
    const auto deadline = std::chrono::steady_clock::now() + step_budget;
    ChunkEncoder encoder(run->pending);
    do {
        run->cursor = keyspace_.scan(run->cursor, 64, [&](std::string_view key, const crdt::Value& value) {
            encoder.add(key, value);
            ++run->pending_states;
        });
    } while (run->cursor != 0 && run->pending.size() < chunk_bytes && std::chrono::steady_clock::now() < deadline);
    run->scanned = run->cursor == 0;
    if (run->pending.size() >= chunk_bytes || run->scanned) {
        ++run->chunks_in_flight;
        boost::asio::post(writer_, [this, run, count = run->pending_states, body = std::move(run->pending),
                                    alive = std::weak_ptr<bool>(alive_)] {
            auto written = run->writer->add_chunk(seal_chunk(count, body));
            std::string error = written ? std::string() : written.error();
            boost::asio::post(io_, [this, run, error, alive] {
                if (!alive.lock()) return;
                --run->chunks_in_flight;
                if (!error.empty() && run->error.empty()) run->error = error;
            });
        });
        run->pending.clear();
        run->pending_states = 0;
    }
    boost::asio::post(io_, [this, run, alive = std::weak_ptr<bool>(alive_)] {
        if (alive.lock()) step(run);
    });
}

void Snapshotter::finish(std::shared_ptr<Run> run) {
    auto report = [this, run](Expected<std::uint64_t, std::string> result) {
        running_.reset();
        if (result) {
            ++stats_.taken;
            stats_.last_lsn = *result;
            stats_.last_duration_ms = now_ms_() - run->started_ms;
        } else {
            ++stats_.failed;
            stats_.last_error = result.error();
        }
        run->done(std::move(result));
    };
    if (!run->error.empty()) return report(unexpected(run->error));
    // The snapshot reflects records up to the end of the log now: they must be
    // on disk before the snapshot replaces the WAL up to its lsn at start-up.
    if (auto synced = log_.sync_now(); !synced) return report(unexpected(synced.error()));
    boost::asio::post(writer_, [this, run, report, alive = std::weak_ptr<bool>(alive_)] {
        auto finished = run->writer->finish();
        const std::uint64_t bytes = run->writer->bytes_written();
        std::string error = finished ? std::string() : finished.error();
        boost::asio::post(io_, [this, run, report, error, bytes, alive] {
            if (!alive.lock()) return;
            stats_.last_bytes = bytes;
            if (error.empty()) report(run->meta.lsn);
            else report(unexpected(error));
        });
    });
}

Expected<std::uint64_t, std::string> Snapshotter::take_now() {
    if (running_) {
        running_->wait.cancel();
        running_.reset();  // its worker tasks still run; wait for them below
    }
    std::promise<void> idle;
    auto drained = idle.get_future();
    boost::asio::post(writer_, [&idle] { idle.set_value(); });
    drained.wait();

    // The snapshot reflects the log up to here; blocking, so nothing is
    // appended meanwhile, and the log is durable before the snapshot exists.
    if (auto synced = log_.sync_now(); !synced) return unexpected(synced.error());
    const SnapshotMeta meta{log_.appended_lsn(), log_.version_vector(), log_.catchup_floor()};
    auto written = write_snapshot(env_, dir_, meta, keyspace_);
    if (!written) return unexpected(written.error());
    ++stats_.taken;
    stats_.last_lsn = meta.lsn;
    auto size = env_.file_size(*written);
    stats_.last_bytes = size ? *size : 0;
    return meta.lsn;
}

Expected<std::optional<SnapshotMeta>, std::string> load_snapshot(Env& env, const std::string& dir,
                                                                 Keyspace& keyspace,
                                                                 std::vector<std::string>& warnings) {
    auto snapshots = list_snapshots(env, dir);
    if (!snapshots) return unexpected(snapshots.error());
    for (const SnapshotFile& file : *snapshots) {
        Keyspace loaded;
        SnapshotMeta meta;
        auto read = read_snapshot(
            env, file.path,
            [&](std::string_view bytes) -> Expected<void, std::string> {
                auto decoded = decode_snapshot_meta(bytes);
                if (!decoded) return unexpected("bad snapshot meta: " + decoded.error());
                meta = std::move(*decoded);
                return {};
            },
            [&](std::string_view raw) -> Expected<void, std::string> {
                auto states = crdt::decode<std::vector<replication::KeyDelta>>(raw);
                if (!states) return unexpected("bad snapshot chunk: " + states.error());
                for (const auto& s : *states)
                    if (!loaded.join(s.key, s.delta)) return unexpected("key " + s.key + " appears with two types");
                return {};
            });
        if (read) {
            keyspace = std::move(loaded);
            return std::optional<SnapshotMeta>(std::move(meta));
        }
        warnings.push_back("snapshot " + file.path + " is damaged, trying an older one: " + read.error());
    }
    return std::optional<SnapshotMeta>();
}

}  // namespace meridian::node
