// merkle.verify_inclusion / merkle.verify_consistency / merkle.root: RFC 9162 Merkle tree hashing and proof
// verification, shaped like the transparency-dev/merkle vector files (hashes in hex instead of base64).
#include <cstdint>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "conformance/fields.h"
#include "conformance/harness.h"
#include "transparency/merkle.h"

namespace openpcc::conformance {

using nlohmann::json;
using transparency::Hash;

namespace {

// More leaves than this in one merkle.root request are refused (a line is held in memory anyway).
constexpr size_t kMaxRootLeaves = 1 << 20;

// A hex field holding a hash. Bad hex or a missing field is a request error; a well-formed byte string of the wrong
// length is a value that cannot verify (nullopt), as the vector files treat it.
Result<std::optional<Hash>> hash_field(const json& req, std::string_view name) {
  auto bytes = hex_field(req, name);
  if (!bytes) return std::unexpected(bytes.error());
  auto h = transparency::hash_from_bytes(*bytes);
  if (!h) return std::optional<Hash>();
  return std::optional<Hash>(*h);
}

// "proof": an array of hex hashes (absent or null: empty). nullopt when an element is not 32 bytes.
Result<std::optional<std::vector<Hash>>> proof_field(const json& req) {
  std::vector<Hash> out;
  auto it = req.find("proof");
  if (it == req.end() || it->is_null()) return std::optional<std::vector<Hash>>(out);
  if (!it->is_array()) {
    return make_error(ErrorCode::kInvalidArgument, "field \"proof\" must be an array of hex strings");
  }
  bool all_hashes = true;
  for (const json& element : *it) {
    if (!element.is_string()) {
      return make_error(ErrorCode::kInvalidArgument, "field \"proof\" must be an array of hex strings");
    }
    auto bytes = from_hex(element.get_ref<const std::string&>());
    if (!bytes) {
      return make_error(ErrorCode::kInvalidArgument, "field \"proof\" holds invalid hex: " + bytes.error().message);
    }
    auto h = transparency::hash_from_bytes(*bytes);
    if (!h) {
      all_hashes = false;
      continue;
    }
    out.push_back(*h);
  }
  if (!all_hashes) return std::optional<std::vector<Hash>>();
  return std::optional<std::vector<Hash>>(std::move(out));
}

Result<json> verify_inclusion_op(const json& req) {
  auto index = uint_field(req, "leaf_index", UINT64_MAX);
  if (!index) return std::unexpected(index.error());
  auto size = uint_field(req, "tree_size", UINT64_MAX);
  if (!size) return std::unexpected(size.error());
  auto leaf = hash_field(req, "leaf_hash");
  if (!leaf) return std::unexpected(leaf.error());
  auto root = hash_field(req, "root");
  if (!root) return std::unexpected(root.error());
  auto proof = proof_field(req);
  if (!proof) return std::unexpected(proof.error());
  bool valid = *leaf && *root && *proof &&
               transparency::verify_inclusion(*index, *size, **leaf, **proof, **root).has_value();
  return json{{"valid", valid}};
}

Result<json> verify_consistency_op(const json& req) {
  auto size1 = uint_field(req, "size1", UINT64_MAX);
  if (!size1) return std::unexpected(size1.error());
  auto size2 = uint_field(req, "size2", UINT64_MAX);
  if (!size2) return std::unexpected(size2.error());
  auto root1 = hash_field(req, "root1");
  if (!root1) return std::unexpected(root1.error());
  auto root2 = hash_field(req, "root2");
  if (!root2) return std::unexpected(root2.error());
  auto proof = proof_field(req);
  if (!proof) return std::unexpected(proof.error());
  bool valid = *root1 && *root2 && *proof &&
               transparency::verify_consistency(*size1, *size2, **root1, **root2, **proof).has_value();
  return json{{"valid", valid}};
}

Result<json> root_op(const json& req) {
  auto it = req.find("leaves");
  if (it == req.end() || !it->is_array()) {
    return make_error(ErrorCode::kInvalidArgument, "field \"leaves\" must be an array of hex strings");
  }
  if (it->size() > kMaxRootLeaves) {
    return make_error(ErrorCode::kLimitExceeded, "field \"leaves\" holds more than 1048576 leaves");
  }
  std::vector<Hash> hashes;
  hashes.reserve(it->size());
  for (const json& element : *it) {
    if (!element.is_string()) {
      return make_error(ErrorCode::kInvalidArgument, "field \"leaves\" must be an array of hex strings");
    }
    auto bytes = from_hex(element.get_ref<const std::string&>());
    if (!bytes) {
      return make_error(ErrorCode::kInvalidArgument, "field \"leaves\" holds invalid hex: " + bytes.error().message);
    }
    hashes.push_back(transparency::leaf_hash(*bytes));
  }
  return json{{"root", to_hex(transparency::root_from_leaf_hashes(hashes))}};
}

}  // namespace

void add_merkle_operations(Harness& h) {
  h.add("merkle.verify_inclusion", verify_inclusion_op);
  h.add("merkle.verify_consistency", verify_consistency_op);
  h.add("merkle.root", root_op);
}

}  // namespace openpcc::conformance
