// CRC-32C (Castagnoli), the checksum of WAL records and snapshot chunks. Uses the
// SSE4.2 crc32 instruction when the CPU has it and Boost.CRC otherwise: the same
// polynomial either way, so files move between machines. Pure; any thread.
#pragma once

#include <cstdint>
#include <string_view>

namespace meridian::node {

std::uint32_t crc32c(std::string_view data);

// The portable version, for tests that compare both.
std::uint32_t crc32c_portable(std::string_view data);

}  // namespace meridian::node
