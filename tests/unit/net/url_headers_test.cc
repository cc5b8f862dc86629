#include <gtest/gtest.h>

#include "net/headers.h"
#include "net/url.h"

namespace openpcc::net {
namespace {

TEST(ParseUrl, AcceptsHttpAndHttps) {
  auto u = parse_url("http://Example.COM/a/b?c=d#frag");
  ASSERT_TRUE(u.has_value()) << u.error().to_string();
  EXPECT_EQ(u->scheme, "http");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 80);
  EXPECT_EQ(u->target, "/a/b?c=d");
  EXPECT_FALSE(u->is_tls());
  EXPECT_EQ(u->authority(), "example.com");

  u = parse_url("HTTPS://127.0.0.1:8443");
  ASSERT_TRUE(u.has_value());
  EXPECT_TRUE(u->is_tls());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/");
  EXPECT_EQ(u->authority(), "127.0.0.1:8443");
  EXPECT_EQ(u->to_string(), "https://127.0.0.1:8443/");

  u = parse_url("https://[::1]:9000/x");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 9000);
  EXPECT_EQ(u->authority(), "[::1]:9000");

  u = parse_url("http://h?q=1");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->target, "/?q=1");
  EXPECT_EQ(parse_url("https://h:443/")->authority(), "h");
  EXPECT_EQ(parse_url("http://h/%2Fx")->target, "/%2Fx");
}

TEST(ParseUrl, RejectsWithClearErrors) {
  struct Case {
    const char* url;
    const char* why;
  } cases[] = {
      {"ftp://h/", "unsupported scheme"},
      {"h/path", "missing scheme"},
      {"http://", "empty host"},
      {"http:///x", "empty host"},
      {"http://user:pw@h/", "userinfo"},
      {"http://h:/", "empty port"},
      {"http://h:0/", "port 0"},
      {"http://h:65536/", "out of range"},
      {"http://h:8x/", "not a number"},
      {"http://h /", "whitespace"},
      {"http://h/\x01", "control"},
      {"http://[::1/", "unterminated"},
      {"http://[]/", "empty IPv6"},
      {"http://[::1]x/", "after IPv6"},
      {"http://[zz]/", "IPv6"},
      {"http://h<>/", "invalid character in host"},
      {"http://h/%zz", "percent"},
      {"http://h/%4", "percent"},
  };
  for (const auto& c : cases) {
    auto u = parse_url(c.url);
    ASSERT_FALSE(u.has_value()) << c.url;
    EXPECT_EQ(u.error().code, ErrorCode::kInvalidArgument) << c.url;
    EXPECT_NE(u.error().message.find(c.why), std::string::npos) << c.url << " -> " << u.error().message;
  }
}

TEST(Headers, CaseInsensitiveOrderedMultiValue) {
  Headers h;
  h.add("Content-Type", "text/plain");
  h.add("X-A", "1");
  h.add("x-a", "2");
  EXPECT_EQ(h.get("content-type"), "text/plain");
  EXPECT_EQ(h.get_all("X-a").size(), 2u);
  EXPECT_EQ(h.get_all("X-a")[1], "2");
  EXPECT_FALSE(h.get("missing").has_value());
  h.set("X-A", "3");
  EXPECT_EQ(h.get_all("x-a").size(), 1u);
  EXPECT_EQ(h.get("x-a"), "3");
  EXPECT_EQ(h.remove("CONTENT-TYPE"), 1u);
  EXPECT_EQ(h.size(), 1u);
}

TEST(Headers, Validation) {
  EXPECT_TRUE(is_valid_field_name("X-Refund-Amount"));
  EXPECT_FALSE(is_valid_field_name(""));
  EXPECT_FALSE(is_valid_field_name("Bad Name"));
  EXPECT_FALSE(is_valid_field_name("Bad:Name"));
  EXPECT_TRUE(is_valid_field_value("a b\tc"));
  EXPECT_FALSE(is_valid_field_value("a\r\nInjected: 1"));
  EXPECT_FALSE(is_valid_field_value(std::string("a\0b", 3)));
}

TEST(Headers, HopByHopRemoval) {
  Headers h{{"Connection", "close, X-Private"},
            {"X-Private", "secret"},
            {"Transfer-Encoding", "chunked"},
            {"Keep-Alive", "timeout=5"},
            {"Content-Length", "10"},
            {"Content-Type", "message/ohttp-req"}};
  Headers kept = without_hop_by_hop(h);
  EXPECT_EQ(kept, (Headers{{"Content-Length", "10"}, {"Content-Type", "message/ohttp-req"}}));
  EXPECT_EQ(without_hop_by_hop(h, true), (Headers{{"Content-Type", "message/ohttp-req"}}));
}

}  // namespace
}  // namespace openpcc::net
