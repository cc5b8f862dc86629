// The swtpm test fixture itself: it starts, is reachable, and leaves nothing behind.
#include "support/swtpm.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <thread>

#include "attest/tpm/tpm_device.h"
#include "swtpm_device.h"

namespace openpcc::tpm {
namespace {

bool process_exists(pid_t pid) { return kill(pid, 0) == 0 || errno != ESRCH; }

TEST(SwtpmFixtureTest, StartsReachableAndCleansUp) {
  pid_t pid = -1;
  std::filesystem::path dir;
  {
    auto swtpm = test_support::Swtpm::start();
    ASSERT_TRUE(swtpm) << swtpm.error().to_string();
    pid = (*swtpm)->pid();
    dir = (*swtpm)->state_dir();
    EXPECT_GT(pid, 0);
    EXPECT_TRUE(std::filesystem::is_directory(dir));
    EXPECT_EQ((*swtpm)->tcti(), "swtpm:host=127.0.0.1,port=" + std::to_string((*swtpm)->port()));
    auto device = open_started((*swtpm)->tcti());
    ASSERT_TRUE(device) << device.error().to_string();
    auto pcrs = device->pcr_read(std::array<uint32_t, 1>{0});
    ASSERT_TRUE(pcrs) << pcrs.error().to_string();
  }
  // Reaped (a zombie would still answer kill(pid, 0)) and its directory gone.
  EXPECT_FALSE(process_exists(pid));
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(SwtpmFixtureTest, StopIsIdempotentAndTheTpmBecomesUnreachable) {
  auto swtpm = test_support::Swtpm::start();
  ASSERT_TRUE(swtpm) << swtpm.error().to_string();
  std::string tcti = (*swtpm)->tcti();
  pid_t pid = (*swtpm)->pid();
  (*swtpm)->stop();
  (*swtpm)->stop();
  EXPECT_FALSE(process_exists(pid));
  auto device = open_started(tcti);
  ASSERT_FALSE(device);
  EXPECT_EQ(device.error().code, ErrorCode::kUnavailable) << device.error().to_string();
}

TEST(SwtpmFixtureTest, TwoInstancesRunInParallelWithSeparateState) {
  auto a = test_support::Swtpm::start();
  auto b = test_support::Swtpm::start();
  ASSERT_TRUE(a) << a.error().to_string();
  ASSERT_TRUE(b) << b.error().to_string();
  EXPECT_NE((*a)->port(), (*b)->port());
  EXPECT_NE((*a)->port() + 1, (*b)->port());
  EXPECT_NE((*a)->port(), (*b)->port() + 1);
  auto da = open_started((*a)->tcti());
  auto db = open_started((*b)->tcti());
  ASSERT_TRUE(da) << da.error().to_string();
  ASSERT_TRUE(db) << db.error().to_string();

  // Extend PCR 16 a different number of times on each, concurrently; each TPM sees only its own extends.
  const Bytes digest(32, 0x5a);
  auto extend_n = [&](const TpmDevice& d, int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(d.pcr_extend(16, digest));
  };
  std::thread ta([&] { extend_n(*da, 3); });
  std::thread tb([&] { extend_n(*db, 5); });
  ta.join();
  tb.join();

  auto expected = [&](int n) {
    Bytes v(32, 0);
    for (int i = 0; i < n; ++i) v = attest::pcr_extend(v, digest);
    return v;
  };
  const std::array<uint32_t, 1> pcr16 = {16};
  auto va = da->pcr_read(pcr16);
  auto vb = db->pcr_read(pcr16);
  ASSERT_TRUE(va && vb);
  EXPECT_EQ(va->at(16), expected(3));
  EXPECT_EQ(vb->at(16), expected(5));
}

TEST(SwtpmFixtureTest, TwoDevicesOnOneSwtpmConcurrently) {
  // Two connections (as two processes on one TPM would have), used at the same time from two threads. The swtpm
  // TCTI connects per command, so their commands interleave on the one TPM.
  auto swtpm = test_support::Swtpm::start();
  ASSERT_TRUE(swtpm) << swtpm.error().to_string();
  auto first = open_started((*swtpm)->tcti());
  auto second = open_started((*swtpm)->tcti());
  ASSERT_TRUE(first) << first.error().to_string();
  ASSERT_TRUE(second) << second.error().to_string();
  const Bytes digest(32, 0x77);
  constexpr int kPerThread = 20;
  auto work = [&](const TpmDevice& d) {
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_TRUE(d.pcr_extend(16, digest));
      EXPECT_TRUE(d.pcr_read(std::array<uint32_t, 1>{16}));
    }
  };
  std::thread t1([&] { work(*first); });
  std::thread t2([&] { work(*second); });
  t1.join();
  t2.join();
  Bytes expected(32, 0);
  for (int i = 0; i < 2 * kPerThread; ++i) expected = attest::pcr_extend(expected, digest);
  auto a = first->pcr_read(std::array<uint32_t, 1>{16});
  auto b = second->pcr_read(std::array<uint32_t, 1>{16});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->at(16), expected);
  EXPECT_EQ(b->at(16), expected);
}

}  // namespace
}  // namespace openpcc::tpm
