#include "replication/log_record.hpp"

#include "replication/record_format.hpp"

namespace meridian::replication {

std::string encode_record(const LogRecord& record) { return crdt::encode(record); }

Expected<LogRecord, std::string> decode_record(std::string_view bytes) {
    return crdt::decode<LogRecord>(bytes);
}

std::string encode_records(const std::vector<LogRecord>& records) { return crdt::encode(records); }

Expected<std::vector<LogRecord>, std::string> decode_records(std::string_view bytes) {
    return crdt::decode<std::vector<LogRecord>>(bytes);
}

}  // namespace meridian::replication
