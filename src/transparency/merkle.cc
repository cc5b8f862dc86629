#include "transparency/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <string>

namespace openpcc::transparency {
namespace {

// SHA-256 with the algorithm fetched once per process. EVP_Digest(EVP_sha256()) fetches it implicitly on every call,
// which costs about three times the hash of a 65-byte node itself; verification and appends hash little else. The
// handle is immutable once fetched. A missing SHA-256 provider leaves no usable process: abort, as crypto::sha256.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  if (md == nullptr) std::abort();
  return md;
}

Hash sha256_of(const uint8_t* data, size_t size) {
  Hash out;
  unsigned int len = 0;
  if (EVP_Digest(data, size, out.data(), &len, sha256_md(), nullptr) != 1 || len != out.size()) std::abort();
  return out;
}

// One digest context reused for the node hashes of one verification.
class NodeHasher {
 public:
  NodeHasher() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) std::abort();
  }
  ~NodeHasher() { EVP_MD_CTX_free(ctx_); }
  NodeHasher(const NodeHasher&) = delete;
  NodeHasher& operator=(const NodeHasher&) = delete;

  Hash node(const Hash& l, const Hash& r) {
    static constexpr uint8_t kPrefix = 0x01;
    Hash out;
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx_, sha256_md(), nullptr) != 1 || EVP_DigestUpdate(ctx_, &kPrefix, 1) != 1 ||
        EVP_DigestUpdate(ctx_, l.data(), l.size()) != 1 || EVP_DigestUpdate(ctx_, r.data(), r.size()) != 1 ||
        EVP_DigestFinal_ex(ctx_, out.data(), &len) != 1 || len != out.size()) {
      std::abort();
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// The largest power of two strictly smaller than n (n ≥ 2): where RFC 9162 splits a tree of n leaves.
uint64_t split_point(uint64_t n) { return uint64_t{1} << (std::bit_width(n - 1) - 1); }

// How many hashes PATH(index, D[size]) and PROOF(size1, D[size2]) have: the loops of inclusion_proof_ranges and
// consistency_proof_ranges, counting instead of collecting (preconditions checked by the callers).
size_t inclusion_proof_length(uint64_t index, uint64_t size) {
  size_t n = 0;
  for (uint64_t begin = 0, end = size; end - begin > 1; ++n) {
    uint64_t mid = begin + split_point(end - begin);
    (index < mid ? end : begin) = mid;
  }
  return n;
}

size_t consistency_proof_length(uint64_t size1, uint64_t size2) {
  if (size1 == 0 || size1 == size2) return 0;
  size_t n = 0;
  uint64_t m = size1, begin = 0, end = size2;
  bool whole = true;
  while (true) {
    uint64_t width = end - begin;
    if (m == width) return n + (whole ? 0 : 1);
    uint64_t k = split_point(width);
    ++n;
    if (m <= k) {
      end = begin + k;
    } else {
      m -= k;
      begin += k;
      whole = false;
    }
  }
}

Status check_proof_length(size_t got, size_t want, std::string_view what) {
  if (got != want) {
    return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": proof has " + std::to_string(got) +
                                                       " hashes, the tree shape needs " + std::to_string(want));
  }
  return {};
}

}  // namespace

Hash leaf_hash(ByteSpan leaf) {
  Bytes input;
  input.reserve(1 + leaf.size());
  input.push_back(0x00);
  append(input, leaf);
  return sha256_of(input.data(), input.size());
}

Hash node_hash(const Hash& l, const Hash& r) {
  std::array<uint8_t, 1 + 2 * kHashSize> input;
  input[0] = 0x01;
  std::copy(l.begin(), l.end(), input.begin() + 1);
  std::copy(r.begin(), r.end(), input.begin() + 1 + kHashSize);
  return sha256_of(input.data(), input.size());
}

Hash empty_root() { return sha256_of(nullptr, 0); }

Hash root_from_leaf_hashes(std::span<const Hash> leaves) {
  if (leaves.empty()) return empty_root();
  // Bottom-up: pair neighbours; an odd last node moves up unchanged, which is exactly the RFC's right-edge rule.
  std::vector<Hash> level(leaves.begin(), leaves.end());
  while (level.size() > 1) {
    std::vector<Hash> up;
    up.reserve((level.size() + 1) / 2);
    for (size_t i = 0; i + 1 < level.size(); i += 2) up.push_back(node_hash(level[i], level[i + 1]));
    if (level.size() % 2 == 1) up.push_back(level.back());
    level = std::move(up);
  }
  return level[0];
}

Result<Hash> hash_from_bytes(ByteSpan bytes) {
  if (bytes.size() != kHashSize) {
    return make_error(ErrorCode::kInvalidArgument,
                      "merkle: a hash is 32 bytes, got " + std::to_string(bytes.size()));
  }
  Hash h;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

Result<Hash> root_from_inclusion_proof(uint64_t index, uint64_t size, const Hash& leaf,
                                       std::span<const Hash> proof) {
  if (proof.size() > kMaxProofHashes) {
    return make_error(ErrorCode::kLimitExceeded, "merkle inclusion: proof has more than 64 hashes");
  }
  if (index >= size) {
    return make_error(ErrorCode::kInvalidArgument, "merkle inclusion: leaf index " + std::to_string(index) +
                                                       " is not in a tree of size " + std::to_string(size));
  }
  if (auto s = check_proof_length(proof.size(), inclusion_proof_length(index, size), "merkle inclusion"); !s) {
    return std::unexpected(s.error());
  }
  NodeHasher hasher;
  // RFC 9162 §2.1.3.2: fn walks the leaf's position up, sn the last leaf's; where fn is a right child or the
  // rightmost node of its level, the proof element sits on the left.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf;
  for (const Hash& p : proof) {
    if (sn == 0) return make_error(ErrorCode::kInvalidArgument, "merkle inclusion: proof is too long");
    if ((fn & 1) == 1 || fn == sn) {
      r = hasher.node(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = hasher.node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return make_error(ErrorCode::kInvalidArgument, "merkle inclusion: proof is too short");
  return r;
}

Status verify_inclusion(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                        const Hash& root) {
  auto computed = root_from_inclusion_proof(index, size, leaf, proof);
  if (!computed) return std::unexpected(computed.error());
  if (*computed != root) {
    return make_error(ErrorCode::kAuthenticationFailed, "merkle inclusion: proof does not lead to the root");
  }
  return {};
}

Status verify_consistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                          std::span<const Hash> proof) {
  if (proof.size() > kMaxProofHashes) {
    return make_error(ErrorCode::kLimitExceeded, "merkle consistency: proof has more than 64 hashes");
  }
  if (size1 > size2) {
    return make_error(ErrorCode::kInvalidArgument, "merkle consistency: old size " + std::to_string(size1) +
                                                       " is larger than new size " + std::to_string(size2));
  }
  if (auto s = check_proof_length(proof.size(), consistency_proof_length(size1, size2), "merkle consistency"); !s) {
    return s;
  }
  if (size1 == size2) {
    if (root1 != root2) {
      return make_error(ErrorCode::kAuthenticationFailed, "merkle consistency: same size, different roots");
    }
    return {};
  }
  if (size1 == 0) {
    if (root1 != empty_root()) {
      return make_error(ErrorCode::kAuthenticationFailed, "merkle consistency: root of size 0 is not the empty root");
    }
    return {};
  }
  // RFC 9162 §2.1.4.2 (0 < size1 < size2, proof non-empty by the length check). When size1 is a power of two the
  // old root is itself a node of the new tree and the proof omits it.
  size_t next = 0;
  Hash fr;
  if (std::has_single_bit(size1)) {
    fr = root1;
  } else {
    fr = proof[0];
    next = 1;
  }
  Hash sr = fr;
  NodeHasher hasher;
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) == 1) {
    fn >>= 1;
    sn >>= 1;
  }
  for (size_t i = next; i < proof.size(); ++i) {
    const Hash& c = proof[i];
    if (sn == 0) return make_error(ErrorCode::kInvalidArgument, "merkle consistency: proof is too long");
    if ((fn & 1) == 1 || fn == sn) {
      fr = hasher.node(c, fr);
      sr = hasher.node(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = hasher.node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return make_error(ErrorCode::kInvalidArgument, "merkle consistency: proof is too short");
  if (fr != root1) {
    return make_error(ErrorCode::kAuthenticationFailed, "merkle consistency: proof does not lead to the old root");
  }
  if (sr != root2) {
    return make_error(ErrorCode::kAuthenticationFailed, "merkle consistency: proof does not lead to the new root");
  }
  return {};
}

Result<std::vector<LeafRange>> inclusion_proof_ranges(uint64_t index, uint64_t size) {
  if (index >= size) {
    return make_error(ErrorCode::kInvalidArgument, "merkle inclusion: leaf index " + std::to_string(index) +
                                                       " is not in a tree of size " + std::to_string(size));
  }
  // PATH(m, D[n]) walked from the root down; the proof lists the siblings bottom-up.
  std::vector<LeafRange> out;
  uint64_t begin = 0;
  uint64_t end = size;
  while (end - begin > 1) {
    uint64_t mid = begin + split_point(end - begin);
    if (index < mid) {
      out.push_back({mid, end});
      end = mid;
    } else {
      out.push_back({begin, mid});
      begin = mid;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<std::vector<LeafRange>> consistency_proof_ranges(uint64_t size1, uint64_t size2) {
  if (size1 > size2) {
    return make_error(ErrorCode::kInvalidArgument, "merkle consistency: old size " + std::to_string(size1) +
                                                       " is larger than new size " + std::to_string(size2));
  }
  std::vector<LeafRange> out;
  if (size1 == 0 || size1 == size2) return out;
  // SUBPROOF(m, D[begin:end], whole): `whole` stays true while the old tree is a left prefix of the current node,
  // in which case the old root needs no proof element of its own.
  uint64_t m = size1;
  uint64_t begin = 0;
  uint64_t end = size2;
  bool whole = true;
  while (true) {
    uint64_t n = end - begin;
    if (m == n) {
      if (!whole) out.push_back({begin, end});
      break;
    }
    uint64_t k = split_point(n);
    if (m <= k) {
      out.push_back({begin + k, end});
      end = begin + k;
    } else {
      out.push_back({begin, begin + k});
      m -= k;
      begin += k;
      whole = false;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<PerfectNode> perfect_subtrees(LeafRange range) {
  std::vector<PerfectNode> out;
  uint64_t at = range.begin;
  while (at < range.end) {
    // The largest aligned power of two starting at `at` that still fits.
    uint32_t level = at == 0 ? 63 : static_cast<uint32_t>(std::countr_zero(at));
    while (level > 0 && (uint64_t{1} << level) > range.end - at) --level;
    out.push_back({level, at >> level});
    at += uint64_t{1} << level;
  }
  return out;
}

Result<Hash> range_hash(LeafRange range, const PerfectNodeLookup& lookup) {
  if (range.begin >= range.end) {
    return make_error(ErrorCode::kInvalidArgument, "merkle: the hash of an empty slice is not a node");
  }
  std::vector<PerfectNode> nodes = perfect_subtrees(range);
  auto h = lookup(nodes.back());
  if (!h) return std::unexpected(h.error());
  Hash acc = *h;
  for (size_t i = nodes.size() - 1; i-- > 0;) {
    auto left = lookup(nodes[i]);
    if (!left) return std::unexpected(left.error());
    acc = node_hash(*left, acc);
  }
  return acc;
}

Result<Hash> root_at(uint64_t size, const PerfectNodeLookup& lookup) {
  if (size == 0) return empty_root();
  return range_hash({0, size}, lookup);
}

namespace {

Result<std::vector<Hash>> hashes_of(const std::vector<LeafRange>& ranges, const PerfectNodeLookup& lookup) {
  std::vector<Hash> out;
  out.reserve(ranges.size());
  for (const LeafRange& r : ranges) {
    auto h = range_hash(r, lookup);
    if (!h) return std::unexpected(h.error());
    out.push_back(*h);
  }
  return out;
}

}  // namespace

Result<std::vector<Hash>> inclusion_proof(uint64_t index, uint64_t size, const PerfectNodeLookup& lookup) {
  auto ranges = inclusion_proof_ranges(index, size);
  if (!ranges) return std::unexpected(ranges.error());
  return hashes_of(*ranges, lookup);
}

Result<std::vector<Hash>> consistency_proof(uint64_t size1, uint64_t size2, const PerfectNodeLookup& lookup) {
  auto ranges = consistency_proof_ranges(size1, size2);
  if (!ranges) return std::unexpected(ranges.error());
  return hashes_of(*ranges, lookup);
}

// ---------------------------------------------------------------------------------------------------------------------
// MerkleTree

uint64_t MerkleTree::append_leaf_hash(const Hash& leaf) {
  if (levels_.empty()) levels_.emplace_back();
  levels_[0].push_back(leaf);
  uint64_t index = levels_[0].size() - 1;
  // Each completed right child completes its parent.
  for (size_t l = 0; levels_[l].size() % 2 == 0; ++l) {
    if (levels_.size() == l + 1) levels_.emplace_back();
    const auto& below = levels_[l];
    levels_[l + 1].push_back(node_hash(below[below.size() - 2], below.back()));
  }
  return index;
}

Result<Hash> MerkleTree::node(PerfectNode n) const {
  if (n.level >= levels_.size() || n.index >= levels_[n.level].size()) {
    return make_error(ErrorCode::kInvalidArgument, "merkle tree: no complete node at level " +
                                                       std::to_string(n.level) + " index " + std::to_string(n.index));
  }
  return levels_[n.level][n.index];
}

PerfectNodeLookup MerkleTree::lookup() const {
  return [this](PerfectNode n) { return node(n); };
}

Result<Hash> MerkleTree::root(uint64_t tree_size) const {
  if (tree_size > size()) {
    return make_error(ErrorCode::kInvalidArgument, "merkle tree: size " + std::to_string(tree_size) +
                                                       " is beyond the tree's " + std::to_string(size()));
  }
  return root_at(tree_size, lookup());
}

Hash MerkleTree::root() const {
  auto r = root(size());
  return r ? *r : empty_root();  // cannot fail: every node of the current tree is stored
}

Result<std::vector<Hash>> MerkleTree::inclusion_proof(uint64_t index, uint64_t tree_size) const {
  if (tree_size > size()) {
    return make_error(ErrorCode::kInvalidArgument, "merkle tree: size " + std::to_string(tree_size) +
                                                       " is beyond the tree's " + std::to_string(size()));
  }
  return transparency::inclusion_proof(index, tree_size, lookup());
}

Result<std::vector<Hash>> MerkleTree::consistency_proof(uint64_t size1, uint64_t size2) const {
  if (size2 > size()) {
    return make_error(ErrorCode::kInvalidArgument, "merkle tree: size " + std::to_string(size2) +
                                                       " is beyond the tree's " + std::to_string(size()));
  }
  return transparency::consistency_proof(size1, size2, lookup());
}

}  // namespace openpcc::transparency
