// Evidence verification (attest/verify.h) on arbitrary bytes: parse a SignedEvidenceList and run every check under a
// local policy that trusts the simulated root and image of the seed evidence (a node booted by `openpcc compute-boot`
// on swtpm; corpus/attest_evidence/booted_node.pb), so mutations reach every check. Nothing may crash; a report is
// ok() only with a node, and format_report must render any report.
#include <cstdint>
#include <cstdlib>

#include "attest/image_manifest.h"
#include "attest/verify.h"
#include "common/bytes.h"

using namespace openpcc;

namespace {

// The seed's simulated hardware root (P-384 public point), image manifest and quote time.
constexpr char kRootPoint[] =
    "045cd35d50cd26a7d7b8952131dba4b0402122d7b84f661167499ec520e3f1830ee3588915444a68f77ba3655d665bbd6091f584d6bb10f7"
    "18e9e776b66d32007ad2e51337aff39785acc90247e459dc9ca152f237ad58753afe3dcacd425c2270";
constexpr char kManifest[] = R"json({"expected_pcrs":{"0":"0f8b0d0845888a3e2b40cff66077b4f2b4f1ed091ef4cde6faf1bd90a8b474f0","1":"0f026230765f4636ab0b762e98d625ae6e183570d66441eaaa35420381b406df","12":"173d309842709ff351922f45fa77aa412524e7056cfbdbd08c9b1f0dadb41631","2":"3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969","3":"3d458cfe55cc03ea1f443f1562beec8df51c75e14a9fcf9a7234a13f198e7969","4":"71f54b600900aafc70ce15673f4c13157272408e3a43afad504fc08c79bf2739","5":"72daa1dc66b5ecc4716a0d1d2772885c07f9a4f1f8ef3fa845fad438dadad3c7","7":"1280310e584b5dd6fdea51b262a8dcaa446f7a6cb4eda22ad73a7118b4e46951","8":"5df2ebac99e67058845074a796288e0a17f684a90a716ac4ea782643831d7873"},"id":"fuzz-seed","kernel_cmdline":"root=/dev/mapper/root ro confsec.root=4487191bf98b8adb4fa1b9fd5b95b3eb0c033b3b8eb89df09f2a362dc35d18c1","model_digest":"924b95d592b3e32e8b21f577f1974d5bdccb2065fb9fc93c9f752b642f6004a2","verity_root":"4487191bf98b8adb4fa1b9fd5b95b3eb0c033b3b8eb89df09f2a362dc35d18c1"})json";
constexpr int64_t kIssuedAt = 1795263744;

const attest::VerifierPolicy& policy() {
  static const attest::VerifierPolicy p = [] {
    auto root = crypto::EcdsaPublicKey::from_point(crypto::EcCurve::kP384, from_hex(kRootPoint).value());
    if (!root) std::abort();
    auto policy = attest::VerifierPolicy::local({*root});
    auto manifest = attest::parse_image_manifest_json(kManifest);
    if (!manifest) std::abort();
    policy.image_manifests = {*manifest};
    policy.now = kIssuedAt + 1;
    return policy;
  }();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pb::SignedEvidenceList evidence;
  if (!evidence.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto report = attest::verify_evidence(evidence, policy());
  if (report.ok() != report.node.has_value()) std::abort();
  if (!report.ok() && report.first_failure() == nullptr) std::abort();
  (void)attest::format_report(report);
  return 0;
}
