// Which TPM to talk to (a TCTI configuration, spelled like tpm2-tools' --tcti) and the TCTI connection to it.
//
//   swtpm:host=127.0.0.1,port=2321   swtpm's TCP socket interface (commands on port, control on port + 1)
//   mssim:host=127.0.0.1,port=2321   the Microsoft/IBM simulator protocol (platform on port + 1)
//   device:/dev/tpmrm0               a kernel TPM device; use the resource manager (tpmrm*) so that sessions and
//                                    transient objects of different processes do not collide
//
// host and port may be omitted (localhost, 2321); `device` alone means /dev/tpmrm0.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

// tss2_tcti.h's TSS2_TCTI_CONTEXT, declared here so that users of this header need no tss2 headers.
struct TSS2_TCTI_OPAQUE_CONTEXT_BLOB;

namespace openpcc::tpm {

enum class TctiKind { kSwtpm, kMssim, kDevice };

struct TctiConfig {
  static constexpr uint16_t kDefaultPort = 2321;

  TctiKind kind = TctiKind::kDevice;
  std::string host;         // swtpm, mssim
  uint16_t port = 0;        // swtpm, mssim: the command port; the control/platform port is port + 1
  std::string device_path;  // device

  // kInvalidArgument for malformed text (unknown keys, bad port, relative device path, ...), kUnsupported for a
  // TCTI we do not load (tabrmd, cmd, ...). The message names the offending part.
  static Result<TctiConfig> parse(std::string_view text);

  // The canonical spelling, which is what Tss2_TctiLdr_Initialize receives: "swtpm:host=127.0.0.1,port=2321".
  std::string to_string() const;
};

// An initialized TCTI (Tss2_TctiLdr_Initialize); finalized on destruction. Move-only.
class Tcti {
 public:
  // kUnavailable if the TCTI library cannot be loaded or the TPM cannot be reached (socket TCTIs connect here).
  static Result<Tcti> open(const TctiConfig& config);

  Tcti(Tcti&& other) noexcept : context_(other.context_) { other.context_ = nullptr; }
  Tcti& operator=(Tcti&& other) noexcept;
  Tcti(const Tcti&) = delete;
  Tcti& operator=(const Tcti&) = delete;
  ~Tcti();

  // The TSS2_TCTI_CONTEXT*, for Esys_Initialize.
  TSS2_TCTI_OPAQUE_CONTEXT_BLOB* get() const { return context_; }

 private:
  explicit Tcti(TSS2_TCTI_OPAQUE_CONTEXT_BLOB* context) : context_(context) {}
  void reset();

  TSS2_TCTI_OPAQUE_CONTEXT_BLOB* context_ = nullptr;
};

}  // namespace openpcc::tpm
