// Independent expectations for crypto tests, computed straight with OpenSSL so that they never go through the
// project's own implementations (our Keccak, HKDF, ...).
#pragma once

#include <openssl/evp.h>

#include <memory>

#include <gtest/gtest.h>

#include "common/bytes.h"

namespace openpcc::crypto::testing {

// One-shot digest, or a single squeeze of an XOF (SHAKE) of `out_len` bytes.
inline Bytes openssl_hash(const EVP_MD* md, ByteSpan in, size_t out_len) {
  struct Deleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Deleter> ctx(EVP_MD_CTX_new());
  Bytes out(out_len);
  EXPECT_EQ(EVP_DigestInit_ex(ctx.get(), md, nullptr), 1);
  EXPECT_EQ(EVP_DigestUpdate(ctx.get(), in.data(), in.size()), 1);
  if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF) {
    EXPECT_EQ(EVP_DigestFinalXOF(ctx.get(), out.data(), out.size()), 1);
  } else {
    unsigned int len = 0;
    EXPECT_EQ(EVP_DigestFinal_ex(ctx.get(), out.data(), &len), 1);
    EXPECT_EQ(len, out_len);
  }
  return out;
}

}  // namespace openpcc::crypto::testing
