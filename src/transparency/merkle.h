// Merkle tree hashing and proofs for an append-only log, as RFC 9162 §2.1 defines them (the same tree as RFC 6962).
//
//   leaf hash  = SHA-256(0x00 ‖ leaf)
//   node hash  = SHA-256(0x01 ‖ left ‖ right)
//   MTH({})    = SHA-256("")
//   MTH(D[n])  = node_hash(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two smaller than n
//
// Verification (verify_inclusion, verify_consistency) is what clients run: it needs only hashes. Proof generation is
// phrased over "perfect subtrees" (2^level leaves starting at a multiple of 2^level): every node of the tree of any
// size is a perfect subtree or a right-edge node made of a few of them, so a store that keeps the hash of every
// perfect subtree (merkle_store.h, MerkleTree below) answers roots and proofs for any past size in O(log n) lookups.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace openpcc::transparency {

inline constexpr size_t kHashSize = 32;
using Hash = std::array<uint8_t, kHashSize>;

// Proofs longer than this are refused before any hashing (a tree of 2^64 leaves is 64 levels deep).
inline constexpr size_t kMaxProofHashes = 64;

Hash leaf_hash(ByteSpan leaf);                  // SHA-256(0x00 ‖ leaf)
Hash node_hash(const Hash& l, const Hash& r);   // SHA-256(0x01 ‖ l ‖ r)
Hash empty_root();                              // SHA-256(""), the root of the empty tree
// MTH of the tree whose leaves have these hashes (O(n); for small trees, tests and references).
Hash root_from_leaf_hashes(std::span<const Hash> leaves);

// A hash from bytes of exactly 32 (kInvalidArgument otherwise).
Result<Hash> hash_from_bytes(ByteSpan bytes);

// RFC 9162 §2.1.3.2. Succeeds when `proof` shows that `leaf` (a leaf hash) is leaf number `index` of the tree of
// `size` leaves whose root is `root`. Errors: kInvalidArgument for index ≥ size or a proof of the wrong length (a
// missing or an extra element), kLimitExceeded for more than kMaxProofHashes, kAuthenticationFailed when the
// hashes do not lead to `root`.
Status verify_inclusion(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> proof,
                        const Hash& root);

// RFC 9162 §2.1.4.2. Succeeds when `proof` shows that the tree of size1 leaves with root1 is a prefix of the tree of
// size2 leaves with root2. Edge cases: size1 > size2 is an error; size1 == size2 needs an empty proof and equal roots;
// size1 == 0 needs an empty proof and root1 == empty_root() (the empty tree is a prefix of every tree). Errors as
// for verify_inclusion.
Status verify_consistency(uint64_t size1, uint64_t size2, const Hash& root1, const Hash& root2,
                          std::span<const Hash> proof);

// Recomputes the root a proof leads to (the first half of verify_inclusion), for callers that look the root up
// afterwards. Same errors as verify_inclusion except the final comparison.
Result<Hash> root_from_inclusion_proof(uint64_t index, uint64_t size, const Hash& leaf, std::span<const Hash> proof);

// ---------------------------------------------------------------------------------------------------------------------
// Proof generation.

// The leaves [begin, end) of a tree; in a proof, each element is the MTH of such a slice.
struct LeafRange {
  uint64_t begin = 0;
  uint64_t end = 0;
  friend bool operator==(const LeafRange&, const LeafRange&) = default;
};

// The perfect subtree holding leaves [index·2^level, (index+1)·2^level). Level 0 nodes are leaf hashes.
struct PerfectNode {
  uint32_t level = 0;
  uint64_t index = 0;
  friend bool operator==(const PerfectNode&, const PerfectNode&) = default;
};

// The slices whose MTHs make up a proof, in proof order (RFC 9162 §2.1.3.1 PATH and §2.1.4.1 PROOF).
// Preconditions (kInvalidArgument otherwise): index < size; size1 ≤ size2. Consistency with size1 == 0 or
// size1 == size2 is the empty proof.
Result<std::vector<LeafRange>> inclusion_proof_ranges(uint64_t index, uint64_t size);
Result<std::vector<LeafRange>> consistency_proof_ranges(uint64_t size1, uint64_t size2);

// The perfect subtrees that make up a slice, left to right and largest first (greedy aligned split). For the slices a
// proof or a root uses, MTH(slice) is their hashes folded from the right: h = last; h = node_hash(previous, h); ...
std::vector<PerfectNode> perfect_subtrees(LeafRange range);

// Hands out the hash of a perfect subtree; may fail (storage errors travel up unchanged).
using PerfectNodeLookup = std::function<Result<Hash>(PerfectNode)>;

// MTH of a non-empty slice, from its perfect subtrees.
Result<Hash> range_hash(LeafRange range, const PerfectNodeLookup& lookup);
// The root of the tree of the first `size` leaves (empty_root() for 0).
Result<Hash> root_at(uint64_t size, const PerfectNodeLookup& lookup);
Result<std::vector<Hash>> inclusion_proof(uint64_t index, uint64_t size, const PerfectNodeLookup& lookup);
Result<std::vector<Hash>> consistency_proof(uint64_t size1, uint64_t size2, const PerfectNodeLookup& lookup);

// An in-memory append-only tree keeping every perfect subtree hash: append O(log n), roots and proofs for any past
// size O(log n). For tests, tools and benchmarks; the service keeps the same nodes in SQL (merkle_store.h).
class MerkleTree {
 public:
  // Appends a leaf (its leaf hash) and returns its index.
  uint64_t append_leaf_hash(const Hash& leaf);
  uint64_t append(ByteSpan leaf) { return append_leaf_hash(leaf_hash(leaf)); }

  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }
  // kInvalidArgument for sizes beyond size() or indexes outside the tree.
  Result<Hash> root(uint64_t size) const;
  Hash root() const;
  Result<std::vector<Hash>> inclusion_proof(uint64_t index, uint64_t size) const;
  Result<std::vector<Hash>> consistency_proof(uint64_t size1, uint64_t size2) const;
  // The stored hash of a perfect subtree that is complete in the current tree.
  Result<Hash> node(PerfectNode node) const;

 private:
  PerfectNodeLookup lookup() const;
  std::vector<std::vector<Hash>> levels_;  // levels_[l][i] = hash of PerfectNode{l, i}
};

}  // namespace openpcc::transparency
