// Where blocking work goes: a fixed set of worker threads that coroutines hand synchronous calls to.
//
// Network coroutines must never block their thread (runtime.h). Database transactions, fsyncs and other synchronous
// library calls therefore run here:
//
//   net::BlockingPool pool(4);
//   Result<int64_t> balance = co_await pool.run([&] { return ledger.balance(account); });
//
// The calling coroutine is suspended while the call runs on a pool thread and resumes on its own executor (its
// strand) afterwards, so what the lambda captures by reference stays valid. A pool with 0 threads runs the call inline
// (for tests and single-threaded tools).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "net/runtime.h"

namespace openpcc::net {

class BlockingPool {
 public:
  explicit BlockingPool(unsigned threads);
  // Waits for running calls to finish and joins the threads. Destroy it after the servers whose handlers use it.
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Runs fn() on a pool thread. An exception from fn is rethrown in the caller.
  Task<void> run_void(std::function<void()> fn);

  template <class F>
  auto run(F fn) -> Task<std::invoke_result_t<F&>> {
    using R = std::invoke_result_t<F&>;
    if constexpr (std::is_void_v<R>) {
      std::function<void()> call = std::move(fn);
      co_await run_void(std::move(call));
    } else {
      std::optional<R> out;
      std::function<void()> call = [&out, &fn] { out.emplace(fn()); };
      co_await run_void(std::move(call));
      co_return std::move(*out);
    }
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace openpcc::net
