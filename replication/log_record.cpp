#include "replication/log_record.hpp"

#include "replication/record_format.hpp"

namespace meridian::replication {

std::size_t memory_bytes(const LogRecord& record) {
    constexpr std::size_t kControlBlock = 16;  // make_shared's use counts beside the object
    std::size_t bytes = crdt::malloc_chunk_bytes(kControlBlock + sizeof(LogRecord)) +
                        crdt::heap_bytes_of(record.deltas) + record.merged.heap_bytes();
    for (const KeyDelta& d : record.deltas)
        bytes += crdt::heap_bytes_of(d.key) + d.delta.heap_bytes();
    if (record.request) bytes += crdt::heap_bytes_of(record.request->reply);
    return bytes;
}

std::string encode_record(const LogRecord& record) { return crdt::encode(record); }

Expected<LogRecord, std::string> decode_record(std::string_view bytes) {
    return crdt::decode<LogRecord>(bytes);
}

std::string encode_records(const std::vector<LogRecord>& records) {
    std::string out;
    write_records_payload(out, records);
    return out;
}

Expected<std::vector<LogRecord>, std::string> decode_records(std::string_view bytes) {
    return crdt::decode<std::vector<LogRecord>>(bytes, crdt::Clocks::chained);
}

}  // namespace meridian::replication
