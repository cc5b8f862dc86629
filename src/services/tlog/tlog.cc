#include "services/tlog/tlog.h"

#include <utility>

#include "transparency/statement.h"

namespace openpcc::tlog {

Result<std::unique_ptr<TransparencyLog>> TransparencyLog::open(std::shared_ptr<store::Database> db,
                                                               transparency::NoteSigner signer, LogOptions options) {
  transparency::MerkleStoreOptions store_options;
  store_options.max_leaf_size = options.max_entry_bytes;
  store_options.now = options.clock;
  auto store = transparency::MerkleStore::open(std::move(db), std::move(store_options));
  if (!store) return std::unexpected(store.error());
  return std::unique_ptr<TransparencyLog>(
      new TransparencyLog(std::move(*store), std::move(signer), std::move(options)));
}

Result<SignedCheckpoint> TransparencyLog::sign_head(const transparency::LogHead& head) {
  std::lock_guard lock(mutex_);
  if (cached_ && cached_->checkpoint.size == head.size && cached_->checkpoint.root == head.root) return *cached_;
  transparency::Checkpoint cp{.origin = origin(), .size = head.size, .root = head.root};
  auto note = transparency::sign_checkpoint(cp, signer_);
  if (!note) return std::unexpected(wrap_error("tlog: signing the checkpoint", note.error()));
  SignedCheckpoint out{std::move(cp), std::move(*note)};
  // Keep the newest: another thread may have signed a later head meanwhile.
  if (!cached_ || cached_->checkpoint.size <= head.size) cached_ = out;
  return out;
}

Result<SignedCheckpoint> TransparencyLog::checkpoint() {
  auto head = store_->head();
  if (!head) return std::unexpected(head.error());
  return sign_head(*head);
}

Result<AppendReceipt> TransparencyLog::append(ByteSpan entry) {
  if (entry.empty()) return make_error(ErrorCode::kInvalidArgument, "tlog: empty entry");
  if (entry.size() > options_.max_entry_bytes) {
    return make_error(ErrorCode::kLimitExceeded, "tlog: entry of " + std::to_string(entry.size()) +
                                                     " bytes exceeds the limit of " +
                                                     std::to_string(options_.max_entry_bytes));
  }
  if (!options_.publishers.empty()) {
    auto envelope = transparency::parse_dsse_envelope(to_string(entry));
    if (!envelope) {
      return make_error(ErrorCode::kInvalidArgument, "tlog: entry is not a DSSE envelope: " + envelope.error().message);
    }
    if (transparency::to_json(*envelope) != to_string(entry)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "tlog: entry is not in canonical envelope form (compact JSON, members in ascending order, "
                        "standard base64), so bundles could not recompute its leaf");
    }
    if (auto statement = transparency::verify_envelope(*envelope, options_.publishers); !statement) {
      const bool bad_signature = statement.error().code == ErrorCode::kAuthenticationFailed;
      return make_error(bad_signature ? ErrorCode::kUnauthenticated : ErrorCode::kInvalidArgument,
                        "tlog: entry refused: " + statement.error().message);
    }
  }
  auto appended = store_->append(entry);
  if (!appended) return std::unexpected(appended.error());
  // The head now holds the entry (appends only grow it), so the proof at the head's size is valid and the
  // checkpoint signs exactly that tree.
  auto signed_head = checkpoint();
  if (!signed_head) return std::unexpected(signed_head.error());
  auto proof = store_->inclusion_proof(appended->index, signed_head->checkpoint.size);
  if (!proof) return std::unexpected(proof.error());
  AppendReceipt out;
  out.index = appended->index;
  out.duplicate = appended->duplicate;
  out.leaf_hash = transparency::leaf_hash(entry);
  out.inclusion_proof = std::move(*proof);
  out.checkpoint = std::move(*signed_head);
  return out;
}

Result<transparency::LogEntry> TransparencyLog::entry(uint64_t index) { return store_->entry(index); }

Result<uint64_t> TransparencyLog::size_or_head(std::optional<uint64_t> tree_size) {
  if (tree_size) return *tree_size;
  auto head = store_->head();
  if (!head) return std::unexpected(head.error());
  return head->size;
}

Result<InclusionAnswer> TransparencyLog::inclusion(uint64_t index, std::optional<uint64_t> tree_size) {
  auto size = size_or_head(tree_size);
  if (!size) return std::unexpected(size.error());
  auto proof = store_->inclusion_proof(index, *size);
  if (!proof) return std::unexpected(proof.error());
  auto e = store_->entry(index);
  if (!e) return std::unexpected(e.error());
  return InclusionAnswer{index, *size, e->leaf_hash, std::move(*proof)};
}

Result<InclusionAnswer> TransparencyLog::inclusion_by_leaf_hash(const Hash& leaf_hash,
                                                                std::optional<uint64_t> tree_size) {
  auto index = store_->find(leaf_hash);
  if (!index) return std::unexpected(index.error());
  if (!*index) return make_error(ErrorCode::kNotFound, "tlog: no entry with that leaf hash");
  auto size = size_or_head(tree_size);
  if (!size) return std::unexpected(size.error());
  auto proof = store_->inclusion_proof(**index, *size);
  if (!proof) return std::unexpected(proof.error());
  return InclusionAnswer{**index, *size, leaf_hash, std::move(*proof)};
}

Result<std::vector<Hash>> TransparencyLog::consistency(uint64_t from_size, std::optional<uint64_t> to_size,
                                                       uint64_t* to_out) {
  auto to = size_or_head(to_size);
  if (!to) return std::unexpected(to.error());
  if (to_out) *to_out = *to;
  return store_->consistency_proof(from_size, *to);
}

}  // namespace openpcc::tlog
