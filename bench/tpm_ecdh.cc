// The node's TPM operations through swtpm (tests/support/swtpm.h: libtpms in a separate process, reached over
// loopback TCP by tpm2-tss's swtpm TCTI):
//
//   tpm/decap/ours_tpm_rek     DHKEM(P-256) Decap with the REK: Kem::decap → TpmRekKey::dh → StartAuthSession,
//                              PolicyPCR, ECDH_ZGen (3 TPM commands) + HKDF in software
//   tpm/decap/floor            the same Decap with an in-memory P-256 key (OpenSSL ECDH): what a node without a TPM
//                              would pay. Not a raw-OpenSSL floor like the others in this directory: the point here
//                              is the TPM's cost over software, not our glue.
//   tpm/rek_dh                 TpmRekKey::dh alone (peer-point validation + the 3 TPM commands)
//   tpm/pcr_read_1             one TPM2_PCR_Read of one PCR: the cost of one TPM round trip, for scale
//   tpm/quote/{rsa2048,ecc_p256}   TPM2_Quote of the 9 attested PCRs with 32 bytes of qualifying data, by a
//                              persistent AK (as a node would hold it)
//   tpm/create_ak/{rsa2048,ecc_p256}  TPM2_CreatePrimary of the AK (+ FlushContext when the key goes away)
//
// Times are wall clock (UseRealTime): the work happens in the swtpm process, not on this thread's CPU.
// Before measuring, the REK's dh is checked against software ECDH with the same points, and a TPM decap against a
// software encap.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "attest/pcr.h"
#include "attest/tpm/attestation.h"
#include "attest/tpm/node_keys.h"
#include "attest/tpm/persistence.h"
#include "attest/tpm/tcti.h"
#include "attest/tpm/tpm_device.h"
#include "attest/tpm/tpm_rek_key.h"
#include "common/bytes.h"
#include "crypto/kem.h"
#include "crypto/sha256.h"
#include "setup.h"
#include "support/swtpm.h"

namespace openpcc::bench {
namespace {

// One swtpm for the whole run, started on first use from the benchmark's main thread.
struct Node {
  Node() {
    swtpm = must(test_support::Swtpm::start(), "start swtpm");
    device.emplace(must(tpm::TpmDevice::open(must(tpm::TctiConfig::parse(swtpm->tcti()), "tcti")), "open"));
    if (!device->startup()) die("startup");
    for (uint32_t pcr : {0u, 4u, 7u, 12u}) {
      if (!device->pcr_extend(pcr, sha256_bytes("boot " + std::to_string(pcr)))) die("extend");
    }
    attest::PcrValues golden = must(device->pcr_read(attest::kAttestedPcrs), "pcr_read");
    // swtpm has 3 transient object slots and no resource manager in between: keep only the REK transient (its
    // parent is not needed once it is loaded), persist the AKs, and leave slots free for create_ak and for loading
    // a persistent AK during a quote.
    {
      tpm::TpmKey srk = must(tpm::create_storage_primary(*device), "storage primary");
      auto creation = must(tpm::create_rek(*device, srk, golden), "create_rek");
      rek = must(tpm::TpmRekKey::create(*device, std::move(creation.key), golden), "TpmRekKey");
    }
    {
      tpm::TpmKey ak = must(tpm::create_ak(*device, tpm::AkAlgorithm::kRsa2048), "AK RSA");
      ak_rsa.emplace(must(tpm::make_persistent(*device, ak, 0x81010001), "persist AK RSA"));
    }
    {
      tpm::TpmKey ak = must(tpm::create_ak(*device, tpm::AkAlgorithm::kEccP256), "AK ECC");
      ak_ecc.emplace(must(tpm::make_persistent(*device, ak, 0x81010002), "persist AK ECC"));
    }

    kem.emplace(must(crypto::Kem::create(crypto::KemId::kDhkemP256HkdfSha256), "kem"));
    software_key = must(kem->generate_key_pair(), "software key");
    peer = must(kem->generate_key_pair(), "peer key");

    // Cross-checks: the TPM's DH equals software DH, and a TPM decap opens a software encap.
    auto* peer_dh = dynamic_cast<const crypto::DhPrivateKey*>(peer.get());
    SecretBytes in_tpm = must(rek->dh(peer->public_key()), "TPM dh");
    SecretBytes in_software = must(peer_dh->dh(rek->public_key()), "software dh");
    if (to_hex(in_tpm) != to_hex(in_software)) die("TPM and software DH disagree");
    auto rek_public = must(kem->deserialize_public_key(rek->public_key()), "REK public");
    auto encapsulated = must(kem->encap(rek_public), "encap to REK");
    rek_enc = encapsulated.enc;
    if (to_hex(must(kem->decap(rek_enc, *rek), "TPM decap")) != to_hex(encapsulated.shared_secret)) {
      die("TPM decap disagrees with encap");
    }
    auto software_public = must(kem->deserialize_public_key(software_key->public_key()), "software public");
    software_enc = must(kem->encap(software_public), "encap to software key").enc;
  }

  std::unique_ptr<test_support::Swtpm> swtpm;
  std::optional<tpm::TpmDevice> device;
  std::unique_ptr<tpm::TpmRekKey> rek;
  std::optional<tpm::TpmKey> ak_rsa, ak_ecc;
  std::optional<crypto::Kem> kem;
  std::unique_ptr<crypto::KemPrivateKey> software_key, peer;
  Bytes rek_enc, software_enc;
};

Node& node() {
  static Node n;
  return n;
}

void BM_decap_tpm(benchmark::State& state) {
  Node& n = node();
  for (auto _ : state) {
    auto ss = n.kem->decap(n.rek_enc, *n.rek);
    if (!ss) die(ss.error().to_string());
    benchmark::DoNotOptimize(ss->data());
  }
}

void BM_decap_software(benchmark::State& state) {
  Node& n = node();
  for (auto _ : state) {
    auto ss = n.kem->decap(n.software_enc, *n.software_key);
    if (!ss) die(ss.error().to_string());
    benchmark::DoNotOptimize(ss->data());
  }
}

void BM_rek_dh(benchmark::State& state) {
  Node& n = node();
  for (auto _ : state) {
    auto z = n.rek->dh(n.peer->public_key());
    if (!z) die(z.error().to_string());
    benchmark::DoNotOptimize(z->data());
  }
}

void BM_pcr_read_1(benchmark::State& state) {
  Node& n = node();
  const std::array<uint32_t, 1> pcr = {12};
  for (auto _ : state) {
    auto v = n.device->pcr_read(pcr);
    if (!v) die(v.error().to_string());
    benchmark::DoNotOptimize(v->size());
  }
}

void BM_quote(benchmark::State& state, tpm::AkAlgorithm algorithm) {
  Node& n = node();
  const tpm::TpmKey& ak = algorithm == tpm::AkAlgorithm::kRsa2048 ? *n.ak_rsa : *n.ak_ecc;
  const Bytes nonce(32, 0x42);
  for (auto _ : state) {
    auto q = tpm::quote(*n.device, ak, attest::kAttestedPcrs, nonce);
    if (!q) die(q.error().to_string());
    benchmark::DoNotOptimize(q->tpmt_signature.data());
  }
}

void BM_create_ak(benchmark::State& state, tpm::AkAlgorithm algorithm) {
  Node& n = node();
  for (auto _ : state) {
    auto ak = tpm::create_ak(*n.device, algorithm);
    if (!ak) die(ak.error().to_string());
    benchmark::DoNotOptimize(ak->name().data());
  }
}

BENCHMARK(BM_decap_tpm)->Name("tpm/decap/ours_tpm_rek")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_decap_software)->Name("tpm/decap/floor")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rek_dh)->Name("tpm/rek_dh")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_pcr_read_1)->Name("tpm/pcr_read_1")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_quote, rsa2048, tpm::AkAlgorithm::kRsa2048)
    ->Name("tpm/quote/rsa2048")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_quote, ecc_p256, tpm::AkAlgorithm::kEccP256)
    ->Name("tpm/quote/ecc_p256")->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_create_ak, rsa2048, tpm::AkAlgorithm::kRsa2048)
    ->Name("tpm/create_ak/rsa2048")->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_create_ak, ecc_p256, tpm::AkAlgorithm::kEccP256)
    ->Name("tpm/create_ak/ecc_p256")->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace openpcc::bench
