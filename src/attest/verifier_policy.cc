#include "attest/verifier_policy.h"

namespace openpcc::attest {

VerifierPolicy VerifierPolicy::production() { return VerifierPolicy{}; }

VerifierPolicy VerifierPolicy::local(std::vector<crypto::EcdsaPublicKey> roots) {
  VerifierPolicy policy;
  policy.accept_simulated_tee = true;
  policy.simulated_roots = std::move(roots);
  return policy;
}

}  // namespace openpcc::attest
