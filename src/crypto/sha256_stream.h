// Incremental SHA-256 for inputs that do not fit in memory at once (model files of many gigabytes).
#pragma once

#include <memory>

#include "common/bytes.h"
#include "crypto/sha256.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace openpcc::crypto {

class Sha256Stream {
 public:
  Sha256Stream();
  Sha256Stream(Sha256Stream&&) noexcept;
  Sha256Stream& operator=(Sha256Stream&&) noexcept;
  ~Sha256Stream();

  void update(ByteSpan data);
  // The digest of everything passed to update(); the stream then starts over empty.
  Sha256Digest finish();

 private:
  struct Deleter {
    void operator()(EVP_MD_CTX* ctx) const;
  };
  std::unique_ptr<EVP_MD_CTX, Deleter> ctx_;
};

}  // namespace openpcc::crypto
