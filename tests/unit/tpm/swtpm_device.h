// Test helpers: a GoogleTest fixture with a fresh swtpm (tests/support/swtpm.h) and an open, started TpmDevice on
// it, and a software SHA-256 for expected values.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "attest/tpm/tcti.h"
#include "attest/tpm/tpm_device.h"
#include "common/bytes.h"
#include "crypto/sha256.h"
#include "support/swtpm.h"

namespace openpcc::tpm {

inline Bytes sha256_of(ByteSpan data) {
  auto d = crypto::sha256(data);
  return Bytes(d.begin(), d.end());
}

// Opens the swtpm at `tcti` and sends TPM2_Startup.
inline Result<TpmDevice> open_started(const std::string& tcti) {
  auto config = TctiConfig::parse(tcti);
  if (!config) return std::unexpected(config.error());
  auto device = TpmDevice::open(*config);
  if (!device) return std::unexpected(device.error());
  if (auto s = device->startup(); !s) return std::unexpected(s.error());
  return device;
}

class SwtpmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto swtpm = test_support::Swtpm::start();
    ASSERT_TRUE(swtpm) << swtpm.error().to_string();
    swtpm_ = std::move(*swtpm);
    auto device = open_started(swtpm_->tcti());
    ASSERT_TRUE(device) << device.error().to_string();
    device_.emplace(std::move(*device));
  }

  const TpmDevice& tpm() const { return *device_; }

  std::unique_ptr<test_support::Swtpm> swtpm_;
  std::optional<TpmDevice> device_;
};

}  // namespace openpcc::tpm
