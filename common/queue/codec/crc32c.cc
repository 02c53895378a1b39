#include "common/queue/codec/crc32c.h"

#include <array>
#include <cstddef>
#include <cstring>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define PUSH_CRC32C_HAVE_SSE42_PATH 1
#endif

namespace push::queue {
namespace {

constexpr uint32_t kPolynomial = 0x82F63B78;  // 0x1EDC6F41 bit-reversed

// kTables[0] is the classic byte-at-a-time table; kTables[k][b] is the CRC of byte b followed
// by k zero bytes, so eight input bytes are folded with eight look-ups (slicing-by-8).
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables makeTables() {
  Tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t crc = b;
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ ((crc & 1) ? kPolynomial : 0);
    t[0][b] = crc;
  }
  for (uint32_t b = 0; b < 256; ++b) {
    for (size_t k = 1; k < 8; ++k)
      t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr Tables kTables = makeTables();

uint32_t loadLe32(const unsigned char* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// Works on the raw (not inverted) register value.
uint32_t portable(uint32_t crc, const unsigned char* p, size_t n) {
  while (n >= 8) {
    uint32_t lo = loadLe32(p) ^ crc;
    uint32_t hi = loadLe32(p + 4);
    crc = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
          kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
          kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0)
    crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
  return crc;
}

#ifdef PUSH_CRC32C_HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) uint32_t hardware(uint32_t crc, const unsigned char* p,
                                                    size_t n) {
  uint64_t crc64 = crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, sizeof(word));
    crc64 = _mm_crc32_u64(crc64, word);
    p += 8;
    n -= 8;
  }
  crc = static_cast<uint32_t>(crc64);
  while (n-- > 0)
    crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

bool cpuHasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

uint32_t update(uint32_t crc, std::string_view data) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
#ifdef PUSH_CRC32C_HAVE_SSE42_PATH
  if (cpuHasSse42()) return hardware(crc, p, data.size());
#endif
  return portable(crc, p, data.size());
}

}  // namespace

uint32_t crc32c(std::string_view data) {
  return crc32cExtend(0, data);
}

uint32_t crc32cExtend(uint32_t crc, std::string_view data) {
  return ~update(~crc, data);
}

uint32_t crc32cPortableForTest(uint32_t crc, std::string_view data) {
  return ~portable(~crc, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

}  // namespace push::queue
