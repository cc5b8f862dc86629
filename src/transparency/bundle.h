// Transparency bundles: a signed statement together with the proof that it is in the transparency log, so a client
// can verify both offline. Ours replaces the reference's sigstore bundle (Fulcio certificate, Rekor entry, timestamps)
// with an Ed25519 publisher key (dsse.h) and our own Merkle log (merkle.h, checkpoint.h).
//
// The log's leaf for an envelope is its canonical JSON, to_json(envelope) (dsse.h): the log stores and hashes exactly
// those bytes, and any holder of the envelope recomputes them.
//
// JSON form, media type application/vnd.openpcc.transparency-bundle+json (compact, members in ascending order):
//
//   {"checkpoint":"<signed note text: origin\nsize\nroot\n\n— name sig\n>",
//    "dsseEnvelope":{"payload":…,"payloadType":…,"signatures":[…]},
//    "inclusionProof":["<base64 of 32 bytes>", …],                  ← RFC 9162 §2.1.3 path, leaf to root
//    "logIndex":<leaf index, JSON integer>,
//    "mediaType":"application/vnd.openpcc.transparency-bundle+json"}
//
// The tree size and root are those of the checkpoint; the bundle does not repeat them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "transparency/checkpoint.h"
#include "transparency/dsse.h"
#include "transparency/merkle.h"
#include "transparency/note.h"
#include "transparency/statement.h"

namespace openpcc::transparency {

inline constexpr std::string_view kTransparencyBundleMediaType = "application/vnd.openpcc.transparency-bundle+json";
inline constexpr size_t kMaxBundleCheckpointBytes = 16 * 1024;
inline constexpr size_t kMaxBundleJsonBytes = kMaxEnvelopeJsonBytes + 64 * 1024;

struct TransparencyBundle {
  DsseEnvelope envelope;
  uint64_t leaf_index = 0;
  std::vector<Hash> inclusion_proof;
  std::string signed_checkpoint;  // the log's signed note (checkpoint.h)
  friend bool operator==(const TransparencyBundle&, const TransparencyBundle&) = default;
};

// The log leaf of an envelope (its canonical JSON bytes) and that leaf's RFC 9162 hash.
Bytes envelope_leaf(const DsseEnvelope& envelope);
Hash envelope_leaf_hash(const DsseEnvelope& envelope);

std::string to_json(const TransparencyBundle& bundle);
// Strict: exactly the five members, the media type above, the envelope as parse_dsse_envelope accepts it, at most
// kMaxProofHashes proof hashes of 32 bytes each, a checkpoint of at most kMaxBundleCheckpointBytes. Nothing is
// verified. kDecode / kLimitExceeded otherwise.
Result<TransparencyBundle> parse_transparency_bundle(std::string_view json);

// Assembles what a publisher gets back from the log into a bundle, checking that the pieces fit: the checkpoint note
// parses (its signature is not checked; the publisher may not hold the log's key), the index lies inside its tree and
// the proof leads from the envelope's leaf to its root. kInvalidArgument / kAuthenticationFailed otherwise.
Result<TransparencyBundle> assemble_bundle(DsseEnvelope envelope, uint64_t leaf_index,
                                           std::vector<Hash> inclusion_proof, std::string signed_checkpoint);

struct VerifiedStatement {
  Statement statement;
  std::vector<std::string> signers;  // keyids of the trusted publisher keys that signed (dsse_verify)
  Checkpoint checkpoint;             // the log state the inclusion was proven against
  uint64_t leaf_index = 0;
};

// Verifies, in order: the checkpoint's signature by the log key (and, with `trusted`, that it names the same origin);
// that the inclusion proof leads from the envelope's leaf at leaf_index to the checkpoint's root; the envelope's
// signatures against `publishers` (dsse_verify, payload type application/vnd.in-toto+json); and that the payload is an
// in-toto statement. With `trusted` (a checkpoint the caller already holds for this log): a checkpoint of the same
// size must have the same root (otherwise the log has forked). Proving that the two checkpoints of different sizes
// are consistent is the caller's job (feed VerifiedStatement::checkpoint to its log state).
//
// Every error message starts with "bundle: " and names the step that failed (checkpoint, inclusion proof, envelope,
// statement, trusted checkpoint); codes are those of the failing step.
Result<VerifiedStatement> verify_bundle(const TransparencyBundle& bundle, const PublisherKeys& publishers,
                                        const NoteVerifier& log_key, const std::optional<Checkpoint>& trusted);

}  // namespace openpcc::transparency
