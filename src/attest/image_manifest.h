// The image manifest a publisher puts in the transparency log for each node image: the PCR values a node booted
// from that image must quote, its model digest, kernel command line and dm-verity root. Verifiers compare quotes
// against it; it is JSON because it travels inside in-toto statements.
//
// JSON form (compact, keys in ascending order, as to_json writes it):
//   {"expected_pcrs":{"0":"<64 hex>",…,"12":"<64 hex>"},"id":"…","kernel_cmdline":"…","model_digest":"<64 hex>",
//    "verity_root":"…"}
// Parsing is strict: every field is required, unknown and repeated fields are rejected, PCR indices are canonical
// decimals 0–23 and must include every attested PCR, digests are 64 hex digits, and verity_root must be the
// confsec.root= value of kernel_cmdline (empty when it has none).
#pragma once

#include <string>
#include <string_view>

#include "attest/boot_manifest.h"
#include "attest/pcr.h"
#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::attest {

struct ImageManifest {
  std::string id;
  PcrValues expected_pcrs;
  Bytes model_digest;
  std::string kernel_cmdline;
  std::string verity_root;  // hex dm-verity root hash from "confsec.root=" in kernel_cmdline
};

inline constexpr size_t kMaxImageManifestJsonSize = 1 << 20;

// The value of the first space-separated "confsec.root=<value>" argument of a kernel command line, or "".
std::string verity_root_from_cmdline(std::string_view kernel_cmdline);

// expected_pcrs(boot) over kAttestedPcrs, the boot's model digest and command line, and the verity root from it.
ImageManifest image_manifest_for(std::string id, const BootManifest& boot);

// Deterministic JSON (see above). Strings that are not valid UTF-8 have the bad bytes replaced by U+FFFD.
std::string to_json(const ImageManifest& manifest);
// kDecode with a message naming the offending field; kLimitExceeded above kMaxImageManifestJsonSize.
Result<ImageManifest> parse_image_manifest_json(std::string_view json);

}  // namespace openpcc::attest
