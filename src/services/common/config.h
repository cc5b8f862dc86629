// Service configuration files: JSON objects, read strictly. A misspelt key is an error that names it, not a silently
// ignored setting.
//
//   auto file = read_config_file(path);                 // Result<nlohmann::json>
//   ConfigReader cfg(*file, "authbank");
//   std::string listen = cfg.string("listen", "127.0.0.1:8080");
//   int64_t limit = cfg.integer("max_body_bytes", 65536, 1, 1 << 24);
//   double rate = cfg.number("min_success_rate", 0.9, 0.0, 1.0);
//   ConfigReader& tls = cfg.object("tls");              // missing → empty object
//   if (auto ok = cfg.finish(); !ok) ...                // unknown keys, wrong types, out-of-range values
#pragma once

#include <cstdint>
#include <filesystem>
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
  // Any JSON number (integer or fraction), within [min, max].
  double number(std::string_view key, double fallback, double min, double max);
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

// A host for a URL: IPv6 literals get brackets ("::1" → "[::1]").
std::string url_host(const std::string& host);

// Paths in service configs are relative to a base directory (data_dir, itself relative to the config file):
// absolute paths stay, relative ones are joined to `base`; "" stays "".
std::filesystem::path resolve_config_path(const std::filesystem::path& base, const std::string& path);
// The same for database URLs: "sqlite:relative.db" becomes absolute under data_dir; "sqlite::memory:" and other
// URLs (postgresql://…) pass unchanged.
std::string resolve_database_url(const std::filesystem::path& data_dir, const std::string& url);

// The log levels services accept in their "log_level" key (spdlog's names).
bool is_log_level(std::string_view level);
inline constexpr std::string_view kLogLevelsHelp = "trace, debug, info, warn, error, off";
// kInvalidArgument "config: <service>.log_level must be one of …" unless is_log_level(level).
Status check_log_level(std::string_view service, std::string_view level);

// A service config file read as JSON, with the directory its relative paths start from (the file's own, absolute).
struct ConfigFile {
  nlohmann::json json;
  std::filesystem::path base_dir;
};
Result<ConfigFile> read_service_config_file(const std::filesystem::path& path);

// The certificate chain and key a service serves HTTPS with.
struct TlsFiles {
  std::filesystem::path certificate_file;  // PEM chain, leaf first
  std::filesystem::path private_key_file;  // PEM
};

// The optional "tls": {"certificate": FILE, "private_key": FILE} object of a service config. Read it with the other
// keys (so both count as known), then resolve() once data_dir is known.
class TlsSection {
 public:
  explicit TlsSection(ConfigReader& config);
  // nullopt without a "tls" key; kInvalidArgument "config: <service>.tls needs both …" when one file is missing.
  Result<std::optional<TlsFiles>> resolve(std::string_view service, const std::filesystem::path& data_dir) const;

 private:
  bool present_ = false;
  std::string certificate_;
  std::string private_key_;
};

}  // namespace openpcc::services
