#include "attest/tpm/tcti.h"

#include <gtest/gtest.h>

namespace openpcc::tpm {
namespace {

TEST(TctiConfigTest, ParsesSwtpmWithHostAndPort) {
  auto c = TctiConfig::parse("swtpm:host=127.0.0.1,port=2400");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->kind, TctiKind::kSwtpm);
  EXPECT_EQ(c->host, "127.0.0.1");
  EXPECT_EQ(c->port, 2400);
  EXPECT_EQ(c->to_string(), "swtpm:host=127.0.0.1,port=2400");
}

TEST(TctiConfigTest, OptionsInAnyOrderAndDefaults) {
  auto c = TctiConfig::parse("mssim:port=5000,host=tpm.local");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->kind, TctiKind::kMssim);
  EXPECT_EQ(c->host, "tpm.local");
  EXPECT_EQ(c->port, 5000);
  EXPECT_EQ(c->to_string(), "mssim:host=tpm.local,port=5000");

  auto bare = TctiConfig::parse("swtpm");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->to_string(), "swtpm:host=localhost,port=2321");
  auto only_port = TctiConfig::parse("swtpm:port=3000");
  ASSERT_TRUE(only_port);
  EXPECT_EQ(only_port->to_string(), "swtpm:host=localhost,port=3000");
  auto empty_options = TctiConfig::parse("mssim:");
  ASSERT_TRUE(empty_options);
  EXPECT_EQ(empty_options->port, TctiConfig::kDefaultPort);
}

TEST(TctiConfigTest, ParsesDevice) {
  auto c = TctiConfig::parse("device:/dev/tpm0");
  ASSERT_TRUE(c) << c.error().to_string();
  EXPECT_EQ(c->kind, TctiKind::kDevice);
  EXPECT_EQ(c->device_path, "/dev/tpm0");
  EXPECT_EQ(c->to_string(), "device:/dev/tpm0");
  auto bare = TctiConfig::parse("device");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->device_path, "/dev/tpmrm0");
}

TEST(TctiConfigTest, RejectsMalformedText) {
  for (const char* text : {"", ":", "swtpm:host", "swtpm:host=", "swtpm:port=0", "swtpm:port=65535",
                           "swtpm:port=70000", "swtpm:port=12a", "swtpm:port=-1", "swtpm:port=", "swtpm:path=/tmp/s",
                           "swtpm:host=a,host=b", "swtpm:port=1,port=2", "swtpm:host=a,", "swtpm:,host=a",
                           "mssim:host=a,port=1,extra=2", "device:", "device:dev/tpm0", "device:tpmrm0"}) {
    auto c = TctiConfig::parse(text);
    ASSERT_FALSE(c) << "'" << text << "' parsed as " << c->to_string();
    EXPECT_EQ(c.error().code, ErrorCode::kInvalidArgument) << text << ": " << c.error().to_string();
    EXPECT_NE(c.error().message.find("tcti:"), std::string::npos);
  }
}

TEST(TctiConfigTest, UnknownTctiIsUnsupported) {
  auto c = TctiConfig::parse("tabrmd:bus_type=session");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, ErrorCode::kUnsupported);
  EXPECT_NE(c.error().message.find("tabrmd"), std::string::npos);
}

TEST(TctiTest, UnreachableTpmIsUnavailable) {
  // Port 1 on loopback: nothing listens there (and we are not allowed to bind it as non-root anyway).
  auto c = TctiConfig::parse("swtpm:host=127.0.0.1,port=1");
  ASSERT_TRUE(c);
  auto t = Tcti::open(*c);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(t.error().message.find("swtpm:host=127.0.0.1,port=1"), std::string::npos) << t.error().message;
}

TEST(TctiTest, MissingDeviceIsUnavailable) {
  auto t = Tcti::open(*TctiConfig::parse("device:/nonexistent/tpmrm0"));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace openpcc::tpm
