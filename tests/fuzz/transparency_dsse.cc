// Signed-statement parsing (transparency/dsse.h, statement.h, predicates.h, bundle.h): never crashes on any input,
// read as a DSSE envelope, an in-toto statement, a transparency bundle, key rotation periods and an RFC 3339 time.
// Whatever parses re-serializes to a fixed point: parse → to_json → parse gives the same value, and the canonical
// text does not change again (the log's leaf for an envelope must be unique). Parsed envelopes and bundles also go
// through verification against fixed keys (the seeds are signed with them, so mutations of valid inputs reach every
// check); whatever verifies must carry the statement its payload parses to.
//
// Seeds (corpus/transparency_dsse/): envelopes of the three OpenPCC statements signed by the publisher key below
// (Ed25519 seed 0x01 × 32), two of their statements bare, two bundles from a 13-leaf log whose checkpoint is signed by
// the log key below (seed 0x02 × 32, name transparency.openpcc.example/log), rotation periods, an RFC 3339 time with
// an offset, and the DSSE spec's URL-safe vector envelope. They were written with the library's own API
// (sign_statement, MerkleTree, sign_checkpoint, assemble_bundle, to_json).
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "transparency/bundle.h"
#include "transparency/predicates.h"
#include "transparency/strict_json.h"

namespace t = openpcc::transparency;
using openpcc::Bytes;

namespace {

struct Keys {
  t::PublisherKeys publishers;
  std::optional<t::NoteVerifier> log;
};

const Keys& keys() {
  static const Keys k = [] {
    Keys out;
    auto publisher = openpcc::crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x01));
    auto log = openpcc::crypto::Ed25519PrivateKey::from_seed(Bytes(32, 0x02));
    if (!publisher || !log || !out.publishers.add(publisher->public_key())) std::abort();
    auto verifier = t::NoteVerifier::create("transparency.openpcc.example/log", log->public_key());
    if (!verifier) std::abort();
    out.log.emplace(std::move(*verifier));
    return out;
  }();
  return k;
}

void check_statement(const t::Statement& statement) {
  const std::string json = t::to_json(statement);
  auto again = t::parse_statement(json);
  if (!again || !(*again == statement) || t::to_json(*again) != json) std::abort();
  (void)t::image_manifest_from_statement(statement);
  (void)t::currency_key_from_statement(statement);
  if (auto ohttp = t::ohttp_keys_from_statement(statement)) {
    if (ohttp->periods.empty()) std::abort();
    (void)t::active_key_ids(ohttp->periods, ohttp->periods[0].active_until);
  }
}

void check_envelope(const t::DsseEnvelope& envelope) {
  const std::string json = t::to_json(envelope);
  if (json != t::dump_canonical(t::dsse_envelope_to_json_value(envelope))) std::abort();
  auto again = t::parse_dsse_envelope(json);
  if (!again || !(*again == envelope) || t::to_json(*again) != json) std::abort();
  const std::string_view payload(reinterpret_cast<const char*>(envelope.payload.data()), envelope.payload.size());
  auto statement = t::parse_statement(payload);
  if (statement) check_statement(*statement);
  if (auto verified = t::verify_envelope(envelope, keys().publishers)) {
    if (!statement || !(*verified == *statement)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto envelope = t::parse_dsse_envelope(text)) check_envelope(*envelope);

  if (auto statement = t::parse_statement(text)) check_statement(*statement);

  if (auto bundle = t::parse_transparency_bundle(text)) {
    const std::string json = t::to_json(*bundle);
    auto again = t::parse_transparency_bundle(json);
    if (!again || !(*again == *bundle) || t::to_json(*again) != json) std::abort();
    check_envelope(bundle->envelope);
    if (auto verified = t::verify_bundle(*bundle, keys().publishers, *keys().log, std::nullopt)) {
      if (verified->leaf_index >= verified->checkpoint.size) std::abort();
      // A bundle that verifies is also self-consistent.
      auto again_assembled =
          t::assemble_bundle(bundle->envelope, bundle->leaf_index, bundle->inclusion_proof, bundle->signed_checkpoint);
      if (!again_assembled) std::abort();
    }
  }

  if (auto periods = t::parse_key_rotation_periods(text)) {
    const std::string json = t::key_rotation_periods_to_json(*periods);
    auto again = t::parse_key_rotation_periods(json);
    if (!again || !(*again == *periods)) std::abort();
    for (const auto& p : *periods) (void)t::active_key_ids(*periods, p.active_from);
  }

  if (auto time = t::parse_rfc3339(text)) {
    auto again = t::parse_rfc3339(t::format_rfc3339(*time));
    if (!again || *again != *time) std::abort();
  }
  return 0;
}
