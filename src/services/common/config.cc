#include "common/json_parse.h"
#include "services/common/config.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

namespace openpcc::services {

namespace {

// Shortest text that reads back as `value` ("0", "0.5", "1e+20"), for error messages.
std::string format_number(double value) {
  char text[32];
  auto [end, ec] = std::to_chars(text, text + sizeof text, value);
  return ec == std::errc{} ? std::string(text, end) : std::to_string(value);
}

}  // namespace

Result<nlohmann::json> read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot open config file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto parsed = parse_json(buffer.str(), {.allow_comments = true});
  if (!parsed) {
    return make_error(ErrorCode::kDecode, "config file " + path + " is not valid JSON (" + parsed.error().message + ")");
  }
  if (!parsed->is_object()) return make_error(ErrorCode::kDecode, "config file " + path + " must hold a JSON object");
  return parsed;
}

ConfigReader::ConfigReader(const nlohmann::json& object, std::string path) : path_(std::move(path)) {
  if (object.is_object()) {
    object_ = object;
  } else if (object.is_null()) {
    object_ = nlohmann::json::object();
  } else {
    object_ = nlohmann::json::object();
    fail(path_ + " must be an object");
  }
}

void ConfigReader::fail(std::string message) {
  if (!error_) error_ = Error{ErrorCode::kInvalidArgument, "config: " + std::move(message)};
}

const nlohmann::json* ConfigReader::lookup(std::string_view key) {
  seen_.emplace_back(key);
  auto it = object_.find(std::string(key));
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool ConfigReader::has(std::string_view key) const { return object_.contains(std::string(key)); }

std::string ConfigReader::string(std::string_view key, std::string fallback) {
  auto value = optional_string(key);
  return value ? *value : fallback;
}

std::optional<std::string> ConfigReader::optional_string(std::string_view key) {
  const auto* v = lookup(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(path_ + "." + std::string(key) + " must be a string");
    return std::nullopt;
  }
  return v->get<std::string>();
}

int64_t ConfigReader::integer(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  const auto* v = lookup(key);
  if (!v) return fallback;
  if (!v->is_number_integer()) {
    fail(path_ + "." + std::string(key) + " must be an integer");
    return fallback;
  }
  int64_t n = v->get<int64_t>();
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) n = INT64_MAX;
  if (n < min || n > max) {
    fail(path_ + "." + std::string(key) + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    return fallback;
  }
  return n;
}

double ConfigReader::number(std::string_view key, double fallback, double min, double max) {
  const auto* v = lookup(key);
  if (!v) return fallback;
  if (!v->is_number()) {
    fail(path_ + "." + std::string(key) + " must be a number");
    return fallback;
  }
  const double n = v->get<double>();
  if (!(n >= min && n <= max)) {  // also refuses NaN (JSON has none, but the bounds check says so)
    fail(path_ + "." + std::string(key) + " must be between " + format_number(min) + " and " + format_number(max));
    return fallback;
  }
  return n;
}

bool ConfigReader::boolean(std::string_view key, bool fallback) {
  const auto* v = lookup(key);
  if (!v) return fallback;
  if (!v->is_boolean()) {
    fail(path_ + "." + std::string(key) + " must be true or false");
    return fallback;
  }
  return v->get<bool>();
}

std::vector<std::string> ConfigReader::strings(std::string_view key) {
  const auto* v = lookup(key);
  std::vector<std::string> out;
  if (!v) return out;
  if (!v->is_array()) {
    fail(path_ + "." + std::string(key) + " must be an array of strings");
    return out;
  }
  for (const auto& item : *v) {
    if (!item.is_string()) {
      fail(path_ + "." + std::string(key) + " must be an array of strings");
      return {};
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

ConfigReader& ConfigReader::object(std::string_view key) {
  const auto* v = lookup(key);
  std::string child_path = path_ + "." + std::string(key);
  children_.push_back(std::make_unique<ConfigReader>(v ? *v : nlohmann::json(), child_path));
  return *children_.back();
}

Status ConfigReader::finish() const {
  if (error_) return std::unexpected(*error_);
  for (const auto& child : children_) {
    if (auto ok = child->finish(); !ok) return ok;
  }
  for (const auto& [key, unused] : object_.items()) {
    if (std::find(seen_.begin(), seen_.end(), key) == seen_.end()) {
      return make_error(ErrorCode::kInvalidArgument, "config: unknown key " + path_ + "." + key);
    }
  }
  return {};
}

Result<std::pair<std::string, uint16_t>> parse_listen_address(std::string_view address) {
  std::string_view host;
  std::string_view port;
  if (!address.empty() && address.front() == '[') {
    auto close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return make_error(ErrorCode::kInvalidArgument, "listen address must be [ipv6]:port");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument, "listen address must be host:port");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || end != port.data() + port.size() || value > 65535 || host.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "bad listen address: " + std::string(address));
  }
  return std::pair<std::string, uint16_t>{std::string(host), static_cast<uint16_t>(value)};
}

std::string url_host(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

std::filesystem::path resolve_config_path(const std::filesystem::path& base, const std::string& path) {
  if (path.empty()) return {};
  std::filesystem::path p(path);
  return (p.is_absolute() ? p : base / p).lexically_normal();
}

std::string resolve_database_url(const std::filesystem::path& data_dir, const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (!url.starts_with(kSqlite)) return url;
  const std::string path = url.substr(kSqlite.size());
  if (path.empty() || path == ":memory:") return url;
  return std::string(kSqlite) + resolve_config_path(data_dir, path).string();
}

bool is_log_level(std::string_view level) {
  for (std::string_view known : {"trace", "debug", "info", "warn", "error", "off"}) {
    if (level == known) return true;
  }
  return false;
}

Status check_log_level(std::string_view service, std::string_view level) {
  if (is_log_level(level)) return {};
  return make_error(ErrorCode::kInvalidArgument, "config: " + std::string(service) + ".log_level must be one of " +
                                                     std::string(kLogLevelsHelp));
}

Result<ConfigFile> read_service_config_file(const std::filesystem::path& path) {
  auto json = read_config_file(path.string());
  if (!json) return std::unexpected(json.error());
  std::error_code ec;
  std::filesystem::path base = std::filesystem::absolute(path, ec).parent_path();
  if (ec) base = path.parent_path();
  return ConfigFile{std::move(*json), std::move(base)};
}

TlsSection::TlsSection(ConfigReader& config) : present_(config.has("tls")) {
  ConfigReader& tls = config.object("tls");
  certificate_ = tls.string("certificate", "");
  private_key_ = tls.string("private_key", "");
}

Result<std::optional<TlsFiles>> TlsSection::resolve(std::string_view service,
                                                    const std::filesystem::path& data_dir) const {
  if (!present_) return std::optional<TlsFiles>();
  if (certificate_.empty() || private_key_.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "config: " + std::string(service) + ".tls needs both certificate and private_key (or remove it)");
  }
  return std::optional<TlsFiles>(
      TlsFiles{resolve_config_path(data_dir, certificate_), resolve_config_path(data_dir, private_key_)});
}

}  // namespace openpcc::services
