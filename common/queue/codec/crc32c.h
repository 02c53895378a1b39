#pragma once

#include <cstdint>
#include <string_view>

namespace push::queue {

// CRC-32C (Castagnoli: polynomial 0x1EDC6F41, reflected 0x82F63B78, initial and final value
// 0xFFFFFFFF), the checksum of iSCSI and of snappy's framing format.
// crc32c("123456789") == 0xE3069283. Uses the SSE4.2 crc32 instruction when the CPU has it
// (checked once at run time), a slicing-by-8 table otherwise. Thread-safe.
uint32_t crc32c(std::string_view data);

// Continues a checksum over more bytes: crc32cExtend(crc32c(a), b) == crc32c(a + b), and
// crc32cExtend(0, a) == crc32c(a).
uint32_t crc32cExtend(uint32_t crc, std::string_view data);

// The table-driven path alone, whatever the CPU: exposed so tests check it against the
// hardware path.
uint32_t crc32cPortableForTest(uint32_t crc, std::string_view data);

}  // namespace push::queue
