// attest::simulated_boot_manifest: the boot `openpcc compute-boot` and `openpcc computenode` both measure.
#include <gtest/gtest.h>

#include "attest/boot_manifest.h"
#include "attest/image_manifest.h"
#include "common/bytes.h"
#include "crypto/sha256.h"

namespace openpcc::attest {
namespace {

Bytes sha256_of(std::string_view text) {
  auto d = crypto::sha256(as_bytes(text));
  return Bytes(d.begin(), d.end());
}

TEST(SimulatedBootManifest, Defaults) {
  const Bytes model = sha256_of("model");
  const BootManifest m = simulated_boot_manifest(model);
  EXPECT_TRUE(check_boot_manifest(m));
  EXPECT_EQ(m.firmware_version, "openpcc simulated firmware 1.0");
  EXPECT_EQ(m.bootloader_digest, sha256_of("openpcc simulated boot loader"));
  EXPECT_EQ(m.gpt_header, to_bytes("openpcc simulated GPT header"));
  EXPECT_TRUE(m.secure_boot);
  const std::string verity = to_hex(sha256_of("openpcc simulated root filesystem"));
  EXPECT_EQ(m.kernel_cmdline, "root=/dev/mapper/root ro confsec.root=" + verity);
  EXPECT_EQ(verity_root_from_cmdline(m.kernel_cmdline), verity);
  EXPECT_EQ(m.model_digest, model);
}

TEST(SimulatedBootManifest, OptionsAndModelChangeOnlyTheirPcrs) {
  const BootManifest base = simulated_boot_manifest(sha256_of("model"));
  SimulatedBootOptions options;
  options.firmware_version = "other firmware";
  options.verity_root = "ab12";
  const BootManifest custom = simulated_boot_manifest(sha256_of("model"), options);
  EXPECT_EQ(custom.kernel_cmdline, "root=/dev/mapper/root ro confsec.root=ab12");
  const PcrValues a = expected_pcrs(base);
  const PcrValues b = expected_pcrs(custom);
  EXPECT_NE(a.at(0), b.at(0));   // firmware version
  EXPECT_NE(a.at(8), b.at(8));   // kernel command line
  EXPECT_EQ(a.at(12), b.at(12));  // same model
  const PcrValues c = expected_pcrs(simulated_boot_manifest(sha256_of("other model")));
  EXPECT_NE(a.at(12), c.at(12));
  EXPECT_EQ(a.at(0), c.at(0));
  EXPECT_EQ(a.at(8), c.at(8));
}

}  // namespace
}  // namespace openpcc::attest
