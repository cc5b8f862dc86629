#include "attest/tpm/tcti.h"

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <charconv>
#include <optional>

namespace openpcc::tpm {
namespace {

constexpr std::string_view kDefaultHost = "localhost";
constexpr std::string_view kDefaultDevice = "/dev/tpmrm0";
constexpr std::string_view kExpected =
    "expected swtpm:host=<host>,port=<port>, mssim:host=<host>,port=<port> or device:<path>";

std::unexpected<Error> bad(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, "tcti: " + std::move(message));
}

std::optional<uint16_t> parse_port(std::string_view text) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  // port + 1 is used too, so 65535 cannot work.
  if (ec != std::errc() || end != text.data() + text.size() || value == 0 || value >= 65535) return std::nullopt;
  return static_cast<uint16_t>(value);
}

// "host=...,port=..." in either order, each at most once; both optional.
Result<TctiConfig> parse_socket(TctiKind kind, std::string_view name, std::string_view options) {
  TctiConfig config;
  config.kind = kind;
  bool have_host = false;
  bool have_port = false;
  while (!options.empty()) {
    size_t comma = options.find(',');
    std::string_view item = options.substr(0, comma);
    options = comma == std::string_view::npos ? std::string_view() : options.substr(comma + 1);
    if (comma != std::string_view::npos && options.empty()) return bad(std::string(name) + ": trailing ','");
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return bad(std::string(name) + ": '" + std::string(item) + "' is not key=value (" + std::string(kExpected) +
                 ")");
    }
    std::string_view key = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    if (key == "host") {
      if (have_host) return bad(std::string(name) + ": host given twice");
      if (value.empty()) return bad(std::string(name) + ": empty host");
      have_host = true;
      config.host = std::string(value);
    } else if (key == "port") {
      if (have_port) return bad(std::string(name) + ": port given twice");
      auto port = parse_port(value);
      if (!port) return bad(std::string(name) + ": port '" + std::string(value) + "' is not in 1..65534");
      have_port = true;
      config.port = *port;
    } else {
      return bad(std::string(name) + ": unknown option '" + std::string(key) + "' (only host and port)");
    }
  }
  if (!have_host) config.host = std::string(kDefaultHost);
  if (!have_port) config.port = TctiConfig::kDefaultPort;
  return config;
}

}  // namespace

Result<TctiConfig> TctiConfig::parse(std::string_view text) {
  if (text.empty()) return bad("empty configuration (" + std::string(kExpected) + ")");
  size_t colon = text.find(':');
  std::string_view name = text.substr(0, colon);
  bool has_options = colon != std::string_view::npos;
  std::string_view options = has_options ? text.substr(colon + 1) : std::string_view();

  if (name == "swtpm") return parse_socket(TctiKind::kSwtpm, name, options);
  if (name == "mssim") return parse_socket(TctiKind::kMssim, name, options);
  if (name == "device") {
    TctiConfig config;
    config.kind = TctiKind::kDevice;
    if (!has_options) {
      config.device_path = std::string(kDefaultDevice);
    } else if (options.empty() || options.front() != '/') {
      return bad("device: path must be absolute, got '" + std::string(options) + "'");
    } else {
      config.device_path = std::string(options);
    }
    return config;
  }
  if (name.empty()) return bad("missing TCTI name (" + std::string(kExpected) + ")");
  return make_error(ErrorCode::kUnsupported,
                    "tcti: unsupported TCTI '" + std::string(name) + "' (supported: swtpm, mssim, device)");
}

std::string TctiConfig::to_string() const {
  switch (kind) {
    case TctiKind::kSwtpm:
      return "swtpm:host=" + host + ",port=" + std::to_string(port);
    case TctiKind::kMssim:
      return "mssim:host=" + host + ",port=" + std::to_string(port);
    case TctiKind::kDevice:
      return "device:" + device_path;
  }
  return {};
}

Result<Tcti> Tcti::open(const TctiConfig& config) {
  std::string conf = config.to_string();
  TSS2_TCTI_CONTEXT* context = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(conf.c_str(), &context);
  if (rc != TSS2_RC_SUCCESS || context == nullptr) {
    return make_error(ErrorCode::kUnavailable,
                      "tcti: cannot open '" + conf + "': " + std::string(Tss2_RC_Decode(rc)));
  }
  return Tcti(context);
}

Tcti& Tcti::operator=(Tcti&& other) noexcept {
  if (this != &other) {
    reset();
    context_ = other.context_;
    other.context_ = nullptr;
  }
  return *this;
}

Tcti::~Tcti() { reset(); }

void Tcti::reset() {
  if (context_ != nullptr) Tss2_TctiLdr_Finalize(&context_);
  context_ = nullptr;
}

}  // namespace openpcc::tpm
