//===- Errors.h - the runtime's error convention ----------------*- C++ -*-===//
//
// Inside the runtime, failures are exceptions; at the C API they become
// -1 / NULL with the message in modrwkv_last_error().
//
//===----------------------------------------------------------------------===//

#ifndef MODRWKV_RUNTIME_ERRORS_H
#define MODRWKV_RUNTIME_ERRORS_H

#include <stdexcept>
#include <string>

#define MODRWKV_API extern "C" __attribute__((visibility("default")))

namespace modrwkv::runtime {

struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void setLastError(const std::string &message);

/// Runs `body`; returns 0, or -1 after recording the exception's message.
template <typename Fn> int guarded(Fn body) {
  try {
    body();
    return 0;
  } catch (const std::exception &e) {
    setLastError(e.what());
    return -1;
  }
}

} // namespace modrwkv::runtime

#endif // MODRWKV_RUNTIME_ERRORS_H
