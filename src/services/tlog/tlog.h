// The transparency log service's logic, below HTTP: a Merkle log on the database (transparency/merkle_store.h) whose
// heads are published as checkpoints signed by the log's Ed25519 key (C2SP signed notes, transparency/checkpoint.h).
//
//   auto log = TransparencyLog::open(db, std::move(signer));     // signer: NoteSigner named after the origin
//   auto receipt = log->append(envelope_json);                    // index, inclusion proof, signed checkpoint
//   auto note = log->checkpoint();                                // the current head, signed
//
// Checkpoints: the key's name is the log's origin (the checkpoint's first line), so one verifier key string
// ("origin+keyid+key") is all a client needs. Ed25519 signatures are deterministic, so every process serving the same
// database with the same key signs the same head into the same bytes; the newest signed head is cached per process.
// The log never signs a head that does not extend every earlier one: the store only appends.
//
// Entries are opaque bytes (the publisher's DSSE envelope JSON) of at most max_entry_bytes; appending bytes already in
// the log answers their existing index (duplicate = true), so a publisher may retry an append whose answer it lost.
//
// All calls block on the database: services run them on a worker pool.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "store/database.h"
#include "transparency/checkpoint.h"
#include "transparency/dsse.h"
#include "transparency/merkle.h"
#include "transparency/merkle_store.h"
#include "transparency/note.h"

namespace openpcc::tlog {

using transparency::Hash;

inline constexpr size_t kDefaultMaxEntryBytes = 256 * 1024;

struct LogOptions {
  size_t max_entry_bytes = kDefaultMaxEntryBytes;
  // When not empty, an entry must be a DSSE envelope in its canonical JSON form (transparency/dsse.h to_json, so
  // that bundles recompute the same leaf) carrying an in-toto statement signed by these keys (at their threshold):
  // the log then holds only what its publishers signed, whoever holds a bearer token. kInvalidArgument for an entry
  // that is not such an envelope, kUnauthenticated for one without enough trusted signatures.
  transparency::PublisherKeys publishers;
  // Unix seconds for appended_at; the system clock when empty.
  std::function<int64_t()> clock = {};
};

// A head and its signed note.
struct SignedCheckpoint {
  transparency::Checkpoint checkpoint;
  std::string note;
};

// What a publisher gets back from an append: enough to build a transparency bundle (transparency/bundle.h).
struct AppendReceipt {
  uint64_t index = 0;
  bool duplicate = false;
  Hash leaf_hash{};
  std::vector<Hash> inclusion_proof;  // at checkpoint.checkpoint.size
  SignedCheckpoint checkpoint;
};

struct InclusionAnswer {
  uint64_t index = 0;
  uint64_t tree_size = 0;
  Hash leaf_hash{};
  std::vector<Hash> proof;
};

class TransparencyLog {
 public:
  // Migrates the log's tables and returns the log. The signer's name is the origin.
  static Result<std::unique_ptr<TransparencyLog>> open(std::shared_ptr<store::Database> db,
                                                       transparency::NoteSigner signer, LogOptions options = {});

  const std::string& origin() const { return signer_.name(); }
  // "origin+keyid+base64(0x01 ‖ key)": what clients configure to trust this log.
  std::string verifier_key() const { return signer_.verifier_key(); }
  size_t max_entry_bytes() const { return options_.max_entry_bytes; }

  // kInvalidArgument for an empty entry, kLimitExceeded above max_entry_bytes, store errors otherwise.
  Result<AppendReceipt> append(ByteSpan entry);
  // The current head, signed.
  Result<SignedCheckpoint> checkpoint();
  // kNotFound beyond the head.
  Result<transparency::LogEntry> entry(uint64_t index);
  // Inclusion of entry `index` in the tree of `tree_size` entries (the current head when absent). kInvalidArgument
  // for index ≥ tree_size or a size beyond the head.
  Result<InclusionAnswer> inclusion(uint64_t index, std::optional<uint64_t> tree_size);
  // The same for the entry with this leaf hash; kNotFound if the log has no such entry, kInvalidArgument if it is
  // not inside tree_size.
  Result<InclusionAnswer> inclusion_by_leaf_hash(const Hash& leaf_hash, std::optional<uint64_t> tree_size);
  // Consistency of the tree of from_size entries with that of to_size (the current head when absent).
  // *to_out (if given) receives the size the proof ends at.
  Result<std::vector<Hash>> consistency(uint64_t from_size, std::optional<uint64_t> to_size,
                                        uint64_t* to_out = nullptr);

  transparency::MerkleStore& store() { return *store_; }

 private:
  TransparencyLog(std::unique_ptr<transparency::MerkleStore> store, transparency::NoteSigner signer,
                  LogOptions options)
      : store_(std::move(store)), signer_(std::move(signer)), options_(std::move(options)) {}
  Result<SignedCheckpoint> sign_head(const transparency::LogHead& head);
  Result<uint64_t> size_or_head(std::optional<uint64_t> tree_size);

  std::unique_ptr<transparency::MerkleStore> store_;
  transparency::NoteSigner signer_;
  LogOptions options_;
  std::mutex mutex_;
  std::optional<SignedCheckpoint> cached_;  // the newest head signed so far
};

}  // namespace openpcc::tlog
