// Incremental SHA-256 for inputs that do not fit in memory at once (model files of many gigabytes), and for many
// small hashes in a row (event log replay): SHA-256 is fetched once per stream, so finish() and the next update()
// skip OpenSSL 3's per-call algorithm lookup that one-shot sha256() pays. A moved-from stream must not be used.
#pragma once

#include <memory>

#include "common/bytes.h"
#include "crypto/sha256.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_md_st EVP_MD;

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
    void operator()(EVP_MD* md) const;
  };
  std::unique_ptr<EVP_MD, Deleter> md_;
  std::unique_ptr<EVP_MD_CTX, Deleter> ctx_;
};

}  // namespace openpcc::crypto
