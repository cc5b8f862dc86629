// Service configuration files: JSON objects, read strictly. A misspelt key is an error that names it, not a silently
// ignored setting.
//
//   auto file = read_config_file(path);                 // Result<nlohmann::json>
//   ConfigReader cfg(*file, "authbank");
//   std::string listen = cfg.string("listen", "127.0.0.1:8080");
//   int64_t limit = cfg.integer("max_body_bytes", 65536, 1, 1 << 24);
//   ConfigReader& tls = cfg.object("tls");              // missing → empty object
//   if (auto ok = cfg.finish(); !ok) ...                // unknown keys, wrong types, out-of-range values
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace openpcc::services {

// Reads and parses a JSON file; the error names the file and the parse position.
Result<nlohmann::json> read_config_file(const std::string& path);

// Typed access to one JSON object of a config. Getters never fail: they record the first problem and return the
// default, and finish() reports it (so a config's reading code stays linear).
class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& object, std::string path);

  std::string string(std::string_view key, std::string fallback = {});
  std::optional<std::string> optional_string(std::string_view key);
  int64_t integer(std::string_view key, int64_t fallback, int64_t min, int64_t max);
  bool boolean(std::string_view key, bool fallback);
  std::vector<std::string> strings(std::string_view key);
  // A nested object; an absent key gives an empty one. Its problems are reported by this reader's finish().
  // The reference stays valid as long as this reader.
  ConfigReader& object(std::string_view key);
  bool has(std::string_view key) const;

  // Errors for unknown keys (in this object and nested ones read through object()) and bad values; first one wins.
  Status finish() const;

 private:
  const nlohmann::json* lookup(std::string_view key);
  void fail(std::string message);

  nlohmann::json object_;
  std::string path_;
  std::vector<std::string> seen_;
  std::vector<std::unique_ptr<ConfigReader>> children_;
  std::optional<Error> error_;
};

// "host:port" → (host, port); IPv6 literals in brackets ("[::1]:8080"). Port 0 is allowed (any free port).
Result<std::pair<std::string, uint16_t>> parse_listen_address(std::string_view address);

}  // namespace openpcc::services
