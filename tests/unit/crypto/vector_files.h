// Loading the HPKE test-vector files (plain or gzip-compressed JSON) from tests/data.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "common/bytes.h"

namespace openpcc::crypto::testing {

inline std::string test_data_path(const std::string& name) { return std::string(OPENPCC_TEST_DATA_DIR) + "/" + name; }

inline nlohmann::json load_json(const std::string& name) {
  std::ifstream in(test_data_path(name));
  EXPECT_TRUE(in.good()) << "cannot open " << name;
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
}

inline nlohmann::json load_json_gz(const std::string& name) {
  struct GzCloser {
    void operator()(gzFile_s* f) const { gzclose(f); }
  };
  std::unique_ptr<gzFile_s, GzCloser> file(gzopen(test_data_path(name).c_str(), "rb"));
  EXPECT_NE(file, nullptr) << "cannot open " << name;
  if (!file) return nlohmann::json();
  std::string text;
  char buffer[1 << 16];
  for (;;) {
    int n = gzread(file.get(), buffer, sizeof buffer);
    EXPECT_GE(n, 0) << "gzip error in " << name;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

// A hex field of a vector; an absent field reads as empty.
inline Bytes hex_field(const nlohmann::json& object, const char* key) {
  if (!object.contains(key)) return {};
  auto bytes = from_hex(object.at(key).get<std::string>());
  EXPECT_TRUE(bytes.has_value()) << "bad hex in field " << key;
  return bytes.value_or(Bytes{});
}

}  // namespace openpcc::crypto::testing
