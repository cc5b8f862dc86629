// "Something changed": lets coroutines wait for a state change made on another strand or thread, with a timeout,
// without polling and without blocking a runtime thread.
//
//   uint64_t seen = signal.generation();      // read before looking at the shared state
//   if (!ready_under_lock()) co_await signal.wait(seen, 1s);   // returns at once if notify() came after `seen`
//   ...
//   signal.notify();                           // from anywhere, after changing the state
//
// Reading the generation before inspecting the state closes the race between "not ready" and starting to wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "net/runtime.h"

namespace openpcc::wallet {

class AsyncSignal {
 public:
  AsyncSignal();
  ~AsyncSignal();
  AsyncSignal(const AsyncSignal&) = delete;
  AsyncSignal& operator=(const AsyncSignal&) = delete;

  uint64_t generation() const;
  // Returns when the generation differs from `seen` (at once if it already does) or after `timeout`. Must run on a
  // strand (Runtime::spawn/block_on coroutines and server handlers do).
  net::Task<void> wait(uint64_t seen, std::chrono::milliseconds timeout);
  // Bumps the generation and wakes every waiter. Thread-safe; never blocks on waiters.
  void notify();

 private:
  struct Waiter;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  std::vector<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace openpcc::wallet
