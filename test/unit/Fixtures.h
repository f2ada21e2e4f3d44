//===- Fixtures.h - paths of generated test inputs --------------*- C++ -*-===//

#ifndef MODRWKV_TEST_UNIT_FIXTURES_H
#define MODRWKV_TEST_UNIT_FIXTURES_H

#include <cstdlib>
#include <string>

/// A file made by make_fixtures.sh (ctest sets MODRWKV_FIXTURES).
inline std::string fixture(const std::string &name) {
  const char *dir = std::getenv("MODRWKV_FIXTURES");
  return std::string(dir ? dir : "fixtures") + "/" + name;
}

#endif // MODRWKV_TEST_UNIT_FIXTURES_H
