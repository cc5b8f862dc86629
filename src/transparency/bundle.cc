#include "transparency/bundle.h"

#include <utility>

#include "transparency/strict_json.h"

namespace openpcc::transparency {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kWhat = "transparency bundle";

std::unexpected<Error> bundle_error(std::string_view step, const Error& e) {
  return std::unexpected(Error{e.code, "bundle: " + std::string(step) + ": " + e.message});
}

Status check_inclusion(const DsseEnvelope& envelope, uint64_t leaf_index, const std::vector<Hash>& proof,
                       const Checkpoint& checkpoint) {
  if (leaf_index >= checkpoint.size) {
    return make_error(ErrorCode::kInvalidArgument, "leaf index " + std::to_string(leaf_index) +
                                                       " is outside the checkpoint's tree of " +
                                                       std::to_string(checkpoint.size) + " leaves");
  }
  return verify_inclusion(leaf_index, checkpoint.size, envelope_leaf_hash(envelope), proof, checkpoint.root);
}

}  // namespace

Bytes envelope_leaf(const DsseEnvelope& envelope) { return to_bytes(to_json(envelope)); }

Hash envelope_leaf_hash(const DsseEnvelope& envelope) { return leaf_hash(as_bytes(to_json(envelope))); }

std::string to_json(const TransparencyBundle& bundle) {
  Json proof = Json::array();
  for (const Hash& h : bundle.inclusion_proof) proof.push_back(to_base64(h));
  return dump_canonical(Json{{"checkpoint", bundle.signed_checkpoint},
                             {"dsseEnvelope", dsse_envelope_to_json_value(bundle.envelope)},
                             {"inclusionProof", std::move(proof)},
                             {"logIndex", bundle.leaf_index},
                             {"mediaType", kTransparencyBundleMediaType}});
}

Result<TransparencyBundle> parse_transparency_bundle(std::string_view json) {
  auto value = parse_strict_json(json, kMaxBundleJsonBytes, kWhat);
  if (!value) return std::unexpected(value.error());
  if (!value->is_object()) return make_error(ErrorCode::kDecode, std::string(kWhat) + ": not a JSON object");
  if (auto ok = require_members_within(
          *value, {"checkpoint", "dsseEnvelope", "inclusionProof", "logIndex", "mediaType"}, kWhat);
      !ok) {
    return std::unexpected(ok.error());
  }
  auto media_type = string_member(*value, "mediaType", kWhat);
  if (!media_type) return std::unexpected(media_type.error());
  if (*media_type != kTransparencyBundleMediaType) {
    return make_error(ErrorCode::kDecode, std::string(kWhat) + ": mediaType is not \"" +
                                              std::string(kTransparencyBundleMediaType) + "\"");
  }
  TransparencyBundle bundle;
  const Json* envelope = find_member(*value, "dsseEnvelope");
  if (envelope == nullptr) return make_error(ErrorCode::kDecode, std::string(kWhat) + ": missing \"dsseEnvelope\"");
  auto parsed_envelope = dsse_envelope_from_json_value(*envelope);
  if (!parsed_envelope) return std::unexpected(wrap_error(kWhat, parsed_envelope.error()));
  bundle.envelope = std::move(*parsed_envelope);
  if (const size_t size = to_json(bundle.envelope).size(); size > kMaxEnvelopeJsonBytes) {
    return make_error(ErrorCode::kLimitExceeded, std::string(kWhat) + ": the envelope takes " + std::to_string(size) +
                                                     " bytes, more than the limit of " +
                                                     std::to_string(kMaxEnvelopeJsonBytes));
  }
  auto index = uint_member(*value, "logIndex", kWhat);
  if (!index) return std::unexpected(index.error());
  bundle.leaf_index = *index;
  const Json* proof = find_member(*value, "inclusionProof");
  if (proof == nullptr || !proof->is_array()) {
    return make_error(ErrorCode::kDecode, std::string(kWhat) + ": \"inclusionProof\" must be an array");
  }
  if (proof->size() > kMaxProofHashes) {
    return make_error(ErrorCode::kLimitExceeded, std::string(kWhat) + ": " + std::to_string(proof->size()) +
                                                     " proof hashes exceed the limit of " +
                                                     std::to_string(kMaxProofHashes));
  }
  for (size_t i = 0; i < proof->size(); ++i) {
    const Json& element = (*proof)[i];
    const std::string what = std::string(kWhat) + ": inclusionProof[" + std::to_string(i) + "]";
    if (!element.is_string()) return make_error(ErrorCode::kDecode, what + ": not a string");
    auto bytes = from_base64(element.get_ref<const std::string&>());
    if (!bytes) return make_error(ErrorCode::kDecode, what + ": " + bytes.error().message);
    auto hash = hash_from_bytes(*bytes);
    if (!hash) return make_error(ErrorCode::kDecode, what + ": not 32 bytes");
    bundle.inclusion_proof.push_back(*hash);
  }
  auto checkpoint = string_member(*value, "checkpoint", kWhat);
  if (!checkpoint) return std::unexpected(checkpoint.error());
  if (checkpoint->size() > kMaxBundleCheckpointBytes) {
    return make_error(ErrorCode::kLimitExceeded, std::string(kWhat) + ": the checkpoint exceeds " +
                                                     std::to_string(kMaxBundleCheckpointBytes) + " bytes");
  }
  bundle.signed_checkpoint = std::move(*checkpoint);
  return bundle;
}

Result<TransparencyBundle> assemble_bundle(DsseEnvelope envelope, uint64_t leaf_index,
                                           std::vector<Hash> inclusion_proof, std::string signed_checkpoint) {
  if (signed_checkpoint.size() > kMaxBundleCheckpointBytes) {
    return make_error(ErrorCode::kInvalidArgument, "bundle: checkpoint: more than " +
                                                       std::to_string(kMaxBundleCheckpointBytes) + " bytes");
  }
  if (inclusion_proof.size() > kMaxProofHashes) {
    return make_error(ErrorCode::kInvalidArgument, "bundle: inclusion proof: more than " +
                                                       std::to_string(kMaxProofHashes) + " hashes");
  }
  if (const size_t size = to_json(envelope).size(); size > kMaxEnvelopeJsonBytes) {
    return make_error(ErrorCode::kInvalidArgument, "bundle: envelope: " + std::to_string(size) + " bytes");
  }
  auto note = parse_note(signed_checkpoint);
  if (!note) return bundle_error("checkpoint", note.error());
  auto checkpoint = parse_checkpoint(note->text);
  if (!checkpoint) return bundle_error("checkpoint", checkpoint.error());
  if (auto ok = check_inclusion(envelope, leaf_index, inclusion_proof, *checkpoint); !ok) {
    return bundle_error("inclusion proof", ok.error());
  }
  return TransparencyBundle{std::move(envelope), leaf_index, std::move(inclusion_proof), std::move(signed_checkpoint)};
}

Result<VerifiedStatement> verify_bundle(const TransparencyBundle& bundle, const PublisherKeys& publishers,
                                        const NoteVerifier& log_key, const std::optional<Checkpoint>& trusted) {
  auto checkpoint = trusted ? open_signed_checkpoint(bundle.signed_checkpoint, log_key, trusted->origin)
                            : open_signed_checkpoint(bundle.signed_checkpoint, log_key);
  if (!checkpoint) return bundle_error("checkpoint", checkpoint.error());

  if (auto ok = check_inclusion(bundle.envelope, bundle.leaf_index, bundle.inclusion_proof, *checkpoint); !ok) {
    return bundle_error("inclusion proof", ok.error());
  }

  auto signers = dsse_verify(bundle.envelope, publishers, kInTotoPayloadType);
  if (!signers) return bundle_error("envelope", signers.error());
  const Bytes& payload = bundle.envelope.payload;
  auto statement = parse_statement(std::string_view(reinterpret_cast<const char*>(payload.data()), payload.size()));
  if (!statement) return bundle_error("envelope payload", statement.error());

  if (trusted && trusted->size == checkpoint->size && trusted->root != checkpoint->root) {
    return bundle_error("trusted checkpoint",
                        Error{ErrorCode::kAuthenticationFailed,
                              "the log signed two different roots for size " + std::to_string(checkpoint->size) +
                                  " (a fork)"});
  }
  return VerifiedStatement{std::move(*statement), std::move(*signers), std::move(*checkpoint), bundle.leaf_index};
}

}  // namespace openpcc::transparency
