// An in-process NonceStore: a mutex-guarded map from the nonce's 24-byte signed form to its lock state.
//
// Everything is forgotten when the process exits, so it only prevents double spending within one process lifetime:
// use it for tests, single-process development stacks and as the reference behaviour for the contract suite; use an
// SQL store (sql_nonce_store.h) for anything that restarts or runs in more than one process.
#pragma once

#include <memory>

#include "currency/nonce_store.h"

namespace openpcc::currency {

// Answers exactly as nonce_store.h describes: tickets are 16 bytes from the OS CSPRNG in hex and are compared in
// constant time; a lock older than kNonceLockTimeoutSeconds (measured with lock()'s `now`) is taken over by the next
// lock(); collect_garbage() drops every entry, locked or consumed, whose nonce is expired.
std::unique_ptr<NonceStore> make_memory_nonce_store();

}  // namespace openpcc::currency
