// Errors the engine reports to its caller. The engine never prints or exits: inside an
// addon that would take the whole server down. Each error carries a stable string code
// that the binding turns into a JS Error's `code`.
#pragma once

#include <stdexcept>
#include <string>

namespace caviar {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message, std::string path = "")
      : std::runtime_error(message), code_(std::move(code)), path_(std::move(path)) {}
  const std::string& code() const { return code_; }
  // The JSON pointer of the spec field at fault ("/model/layers/0/units"), when one is.
  const std::string& path() const { return path_; }

 private:
  std::string code_;
  std::string path_;
};

// The codes, in one place so the TypeScript face can list the same set.
namespace codes {
inline constexpr const char* kInvalidSpec = "INVALID_SPEC";
inline constexpr const char* kShapeMismatch = "SHAPE_MISMATCH";
inline constexpr const char* kInvalidData = "INVALID_DATA";
inline constexpr const char* kDiverged = "DIVERGED";
inline constexpr const char* kCancelled = "CANCELLED";
inline constexpr const char* kBusy = "BUSY";
inline constexpr const char* kInvalidCheckpoint = "INVALID_CHECKPOINT";
inline constexpr const char* kCheckpointCorrupt = "CHECKPOINT_CORRUPT";
}  // namespace codes

}  // namespace caviar
