// CRC-32C (Castagnoli), the checksum that ends a checkpoint. The polynomial of iSCSI
// (RFC 3720, appendix B.4) and ext4's metadata, reflected: 0x82F63B78. Table-driven, a
// byte at a time: portable, and fast enough for a checkpoint written once an epoch.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace caviar {
namespace crc32c_detail {

constexpr uint32_t kPolynomial = 0x82F63B78u;

// The remainder of each byte value, computed bit by bit at compile time.
constexpr std::array<uint32_t, 256> makeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t value = 0; value < 256; ++value) {
    uint32_t remainder = value;
    for (int bit = 0; bit < 8; ++bit) remainder = (remainder >> 1) ^ ((remainder & 1u) ? kPolynomial : 0u);
    table[value] = remainder;
  }
  return table;
}

inline constexpr std::array<uint32_t, 256> kTable = makeTable();

}  // namespace crc32c_detail

// The CRC-32C of `size` bytes: initial value and final XOR all ones, as RFC 3720 says,
// so crc32c("123456789") is the standard check value 0xE3069283.
inline uint32_t crc32c(const uint8_t* bytes, size_t size) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t index = 0; index < size; ++index)
    crc = (crc >> 8) ^ crc32c_detail::kTable[(crc ^ bytes[index]) & 0xFFu];
  return ~crc;
}

}  // namespace caviar
