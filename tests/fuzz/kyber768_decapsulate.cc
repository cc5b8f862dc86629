// Kyber-768 decapsulation on arbitrary input: never crashes, never fails on right-sized input (implicit rejection
// returns a secret instead), always fails on wrong sizes, and is deterministic. With enough input, the secret key
// itself is fuzzed too (a garbage key must be just as safe).
#include <cstdint>
#include <cstdlib>

#include "crypto/kyber768.h"

namespace kyber = openpcc::crypto::kyber768;

namespace {

const kyber::KeyPair& fixed_key_pair() {
  static const kyber::KeyPair kp = [] {
    std::array<uint8_t, kyber::kKeySeedSize> seed{};
    for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(i);
    return kyber::derive_key_pair(seed);
  }();
  return kp;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  openpcc::ByteSpan input(data, size);
  const auto& kp = fixed_key_pair();

  // The whole input as a ciphertext under the fixed key.
  auto d = kyber::decapsulate(kp.secret_key, input);
  check(d.has_value() == (size == kyber::kCiphertextSize));
  if (d) {
    check(d->size() == kyber::kSharedSecretSize);
    auto again = kyber::decapsulate(kp.secret_key, input);
    check(again.has_value() && openpcc::ct_equal(*again, *d));
  }

  // Input = secret key ‖ ciphertext.
  if (size == kyber::kSecretKeySize + kyber::kCiphertextSize) {
    auto r = kyber::decapsulate(input.first(kyber::kSecretKeySize), input.subspan(kyber::kSecretKeySize));
    check(r.has_value() && r->size() == kyber::kSharedSecretSize);
  }

  // The input as a public key: encapsulation accepts any 1184 bytes.
  auto e = kyber::encapsulate(input, std::array<uint8_t, kyber::kEncapsSeedSize>{});
  check(e.has_value() == (size == kyber::kPublicKeySize));
  return 0;
}
