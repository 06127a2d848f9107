// The checkpoint's checksum (crc32c.h) is CRC-32C as its standards define it: their check
// value and the test vectors of RFC 3720, appendix B.4.
#include "crc32c.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace caviar {
namespace {

TEST(Crc32c, GivesTheStandardCheckValue) {
  const char* text = "123456789";
  EXPECT_EQ(crc32c(reinterpret_cast<const uint8_t*>(text), std::strlen(text)), 0xE3069283u);
}

TEST(Crc32c, MatchesTheTestVectorsOfRfc3720) {
  std::array<uint8_t, 32> bytes{};
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x8A9136AAu) << "32 zeros";
  bytes.fill(0xFF);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x62A8AB43u) << "32 bytes of 0xFF";
  for (size_t index = 0; index < bytes.size(); ++index) bytes[index] = static_cast<uint8_t>(index);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x46DD794Eu) << "0, 1, ..., 31";
  for (size_t index = 0; index < bytes.size(); ++index) bytes[index] = static_cast<uint8_t>(31 - index);
  EXPECT_EQ(crc32c(bytes.data(), bytes.size()), 0x113FDB5Cu) << "31, 30, ..., 0";
}

TEST(Crc32c, OfNothingIsZero) { EXPECT_EQ(crc32c(nullptr, 0), 0u); }

}  // namespace
}  // namespace caviar
