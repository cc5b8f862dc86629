#include "common/json_parse.h"
#include "services/tlog/tlog_api.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <utility>

namespace openpcc::tlog {
namespace {

using nlohmann::json;

json hashes_json(const std::vector<Hash>& hashes) {
  json out = json::array();
  for (const Hash& h : hashes) out.push_back(to_base64(h));
  return out;
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::strict); }

Error decode_error(std::string_view what) {
  return Error{ErrorCode::kDecode, "tlog answer: " + std::string(what)};
}

Result<json> parse_object(std::string_view text) {
  auto j = parse_json(text);
  if (!j || !j->is_object()) return std::unexpected(decode_error("not a JSON object"));
  return j;
}

Result<uint64_t> uint_member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_number_unsigned()) {
    // nlohmann stores non-negative literals as unsigned; anything else (negative, float, string) is refused.
    return std::unexpected(decode_error(std::string(name) + " must be a non-negative integer"));
  }
  return it->get<uint64_t>();
}

Result<std::string> string_member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return std::unexpected(decode_error(std::string(name) + " must be a string"));
  return it->get<std::string>();
}

Result<Hash> hash_value(const json& v, std::string_view name) {
  if (!v.is_string()) return std::unexpected(decode_error(std::string(name) + " must be a base64 string"));
  auto bytes = from_base64(v.get_ref<const std::string&>());
  if (!bytes) return std::unexpected(decode_error(std::string(name) + " is not valid base64"));
  auto h = transparency::hash_from_bytes(*bytes);
  if (!h) return std::unexpected(decode_error(std::string(name) + " is not 32 bytes"));
  return *h;
}

Result<Hash> hash_member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end()) return std::unexpected(decode_error(std::string(name) + " is missing"));
  return hash_value(*it, name);
}

Result<std::vector<Hash>> proof_member(const json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_array()) return std::unexpected(decode_error(std::string(name) + " must be an array"));
  if (it->size() > transparency::kMaxProofHashes) {
    return std::unexpected(decode_error(std::string(name) + " has more than 64 hashes"));
  }
  std::vector<Hash> out;
  for (const json& v : *it) {
    auto h = hash_value(v, name);
    if (!h) return std::unexpected(h.error());
    out.push_back(*h);
  }
  return out;
}

}  // namespace

std::string append_receipt_json(const AppendReceipt& r) {
  return dump(json{{"logIndex", r.index},
                   {"duplicate", r.duplicate},
                   {"leafHash", to_base64(r.leaf_hash)},
                   {"treeSize", r.checkpoint.checkpoint.size},
                   {"inclusionProof", hashes_json(r.inclusion_proof)},
                   {"checkpoint", r.checkpoint.note}});
}

std::string entry_json(const transparency::LogEntry& e) {
  return dump(json{{"logIndex", e.index},
                   {"leafHash", to_base64(e.leaf_hash)},
                   {"leaf", to_base64(e.data)},
                   {"appendedAt", e.appended_at}});
}

std::string inclusion_json(const InclusionAnswer& a) {
  return dump(json{{"logIndex", a.index},
                   {"treeSize", a.tree_size},
                   {"leafHash", to_base64(a.leaf_hash)},
                   {"inclusionProof", hashes_json(a.proof)}});
}

std::string consistency_json(const ConsistencyAnswer& a) {
  return dump(json{{"fromSize", a.from_size}, {"toSize", a.to_size}, {"consistencyProof", hashes_json(a.proof)}});
}

std::string error_json(std::string_view message) {
  return json{{"error", std::string(message)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<AppendReceipt> parse_append_receipt(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return std::unexpected(j.error());
  AppendReceipt out;
  auto index = uint_member(*j, "logIndex");
  if (!index) return std::unexpected(index.error());
  auto dup = j->find("duplicate");
  if (dup == j->end() || !dup->is_boolean()) return std::unexpected(decode_error("duplicate must be true or false"));
  auto leaf = hash_member(*j, "leafHash");
  if (!leaf) return std::unexpected(leaf.error());
  auto size = uint_member(*j, "treeSize");
  if (!size) return std::unexpected(size.error());
  auto proof = proof_member(*j, "inclusionProof");
  if (!proof) return std::unexpected(proof.error());
  auto note = string_member(*j, "checkpoint");
  if (!note) return std::unexpected(note.error());
  auto parsed = transparency::parse_note(*note);
  if (!parsed) return std::unexpected(decode_error("checkpoint: " + parsed.error().message));
  auto cp = transparency::parse_checkpoint(parsed->text);
  if (!cp) return std::unexpected(decode_error(cp.error().message));
  if (cp->size != *size) return std::unexpected(decode_error("treeSize differs from the checkpoint's size"));
  if (*index >= *size) return std::unexpected(decode_error("logIndex is outside the checkpoint's tree"));
  out.index = *index;
  out.duplicate = dup->get<bool>();
  out.leaf_hash = *leaf;
  out.inclusion_proof = std::move(*proof);
  out.checkpoint = SignedCheckpoint{std::move(*cp), std::move(*note)};
  return out;
}

Result<transparency::LogEntry> parse_entry(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return std::unexpected(j.error());
  transparency::LogEntry out;
  auto index = uint_member(*j, "logIndex");
  if (!index) return std::unexpected(index.error());
  auto leaf_hash = hash_member(*j, "leafHash");
  if (!leaf_hash) return std::unexpected(leaf_hash.error());
  auto leaf64 = string_member(*j, "leaf");
  if (!leaf64) return std::unexpected(leaf64.error());
  auto leaf = from_base64(*leaf64);
  if (!leaf) return std::unexpected(decode_error("leaf is not valid base64"));
  auto at = j->find("appendedAt");
  if (at == j->end() || !at->is_number_integer()) return std::unexpected(decode_error("appendedAt must be an integer"));
  if (transparency::leaf_hash(*leaf) != *leaf_hash) {
    return std::unexpected(decode_error("leafHash does not match leaf"));
  }
  out.index = *index;
  out.leaf_hash = *leaf_hash;
  out.data = std::move(*leaf);
  out.appended_at = at->get<int64_t>();
  return out;
}

Result<InclusionAnswer> parse_inclusion(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return std::unexpected(j.error());
  auto index = uint_member(*j, "logIndex");
  if (!index) return std::unexpected(index.error());
  auto size = uint_member(*j, "treeSize");
  if (!size) return std::unexpected(size.error());
  auto leaf = hash_member(*j, "leafHash");
  if (!leaf) return std::unexpected(leaf.error());
  auto proof = proof_member(*j, "inclusionProof");
  if (!proof) return std::unexpected(proof.error());
  return InclusionAnswer{*index, *size, *leaf, std::move(*proof)};
}

Result<ConsistencyAnswer> parse_consistency(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return std::unexpected(j.error());
  auto from = uint_member(*j, "fromSize");
  if (!from) return std::unexpected(from.error());
  auto to = uint_member(*j, "toSize");
  if (!to) return std::unexpected(to.error());
  auto proof = proof_member(*j, "consistencyProof");
  if (!proof) return std::unexpected(proof.error());
  return ConsistencyAnswer{*from, *to, std::move(*proof)};
}

std::string error_message_from_json(std::string_view body) {
  auto j = parse_json(body);
  if (j && j->is_object()) {
    auto it = j->find("error");
    if (it != j->end() && it->is_string()) return it->get<std::string>();
  }
  std::string text(body.substr(0, std::min<size_t>(body.size(), 200)));
  return text;
}

}  // namespace openpcc::tlog
