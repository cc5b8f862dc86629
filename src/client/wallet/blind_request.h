// A blind credit request the wallet can send again after a restart.
//
// currency::begin_credit keeps its unblinding inverse private, which is right for a request that lives as long as
// one call. The wallet must instead write every request to its state file *before* sending it, so that after a
// crash it can send the identical request again (the banks answer a repeated blinded message with the signature
// they gave the first time, and move no money twice) and finish the credit with the stored inverse. This is the
// same construction as begin_credit (a fresh nonce with a safe timestamp, RSAPBSSA blinding with the value's wire
// form as public metadata), with every part of it visible.
//
//   auto request = make_blind_request(currency_key, value, now);   // persist it, then send value + blinded_message
//   auto credit = finish_blind_request(currency_key, *request, blind_signature);   // verifies
//
// The inverse is a secret: with it and the blinded message, anyone can link the finished credit to the request the
// bank saw. It is wiped on destruction (SecretBytes).
#pragma once

#include <cstdint>

#include "common/bytes.h"
#include "common/error.h"
#include "common/secure.h"
#include "crypto/rsa_blind.h"
#include "currency/credit.h"
#include "currency/nonce.h"
#include "currency/value.h"

namespace openpcc::wallet {

struct BlindRequest {
  currency::Value value;
  currency::Nonce nonce;
  Bytes blinded_message;  // modulus-sized; what the bank signs
  SecretBytes inverse;    // r⁻¹ mod n, modulus-sized
  // Unix seconds before which the finished credit must not leave the client (the 30-second unsafe-increment rule of
  // currency/nonce.h); ≤ the creation time when there is nothing to wait for.
  int64_t ready_at = 0;

  BlindRequest() = default;
  BlindRequest(BlindRequest&&) noexcept = default;
  BlindRequest& operator=(BlindRequest&&) noexcept = default;
  // A deliberate copy (the inverse is secret).
  BlindRequest clone() const;

  friend bool operator==(const BlindRequest& a, const BlindRequest& b);
};

// A fresh request for `value` at `now_unix`: nonce timestamp chosen with `r` uniform in [0, 1) (see
// currency::safe_nonce_timestamp), blinding factor from the OS CSPRNG.
Result<BlindRequest> make_blind_request(const crypto::RsaPublicKey& key, const currency::Value& value,
                                        int64_t now_unix, double r);
// The same with r from the OS CSPRNG.
Result<BlindRequest> make_blind_request(const crypto::RsaPublicKey& key, const currency::Value& value,
                                        int64_t now_unix);

// Unblinds the bank's answer and verifies the credit under the value's derived key: kAuthenticationFailed if the
// bank signed something else, kInvalidArgument for a wrong-sized answer.
Result<currency::Credit> finish_blind_request(const crypto::RsaPublicKey& key, const BlindRequest& request,
                                              ByteSpan blind_signature);

}  // namespace openpcc::wallet
