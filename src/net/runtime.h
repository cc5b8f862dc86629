// How services run: the threading model of the HTTP layer.
//
// A Runtime owns one boost::asio::io_context and N threads that run it. Everything network-related is a C++20
// coroutine, Task<T> (= boost::asio::awaitable<T>), running on that context:
//
//  * Each server connection runs as one coroutine on its own strand, so a handler's code for one request is never
//    executed concurrently with itself, while different connections run in parallel on the N threads.
//  * A handler does async work by co_await-ing: reading the request body, writing the response, making client calls
//    (Client uses the executor of the coroutine that calls it, i.e. the connection's strand), sleep_for(), or
//    run_concurrently() for a full-duplex pump. A handler must never block its thread (no std::future::get, no
//    blocking sockets, no Runtime::block_on, no long CPU work without care: it holds one of the N threads).
//  * Code outside the runtime (main(), tests, CLI tools) starts coroutines with spawn() or runs one to completion
//    with block_on().
//
// Destroy servers (Server::shutdown) before the Runtime that runs them.
//
// GCC 12 coroutine pitfalls (compiler bugs, fixed in later GCC) that every coroutine author here must avoid:
//  * A braced list that becomes a std::initializer_list inside a co_await expression does not compile
//    ("array used as initializer"): write `Headers h{{"Trailer", "X-Refund"}}; co_await res.write_head(200, h);`.
//  * An aggregate-initialized temporary (`Agg{...}`, `{.field = ...}` of an aggregate type) passed as an argument
//    inside a co_await expression is destroyed twice at run time. Put it in a named local first. The types of this
//    layer that coroutines take by value (ClientRequest, Headers) have constructors, so they are safe to brace.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/awaitable.hpp>

#include "common/error.h"

namespace boost::asio {
class io_context;
}

namespace openpcc::net {

template <class T = void>
using Task = boost::asio::awaitable<T>;

class Runtime {
 public:
  // Starts `threads` (at least 1) threads running the io_context; they idle until there is work.
  explicit Runtime(unsigned threads = 1);
  // stop() and join.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  boost::asio::io_context& context();

  // Runs fn() as a detached coroutine on a new strand. An exception escaping it is logged, never propagated. `fn` is
  // kept alive until the coroutine finishes, so a capturing lambda is safe.
  void spawn(std::function<Task<void>()> fn);

  // Runs fn() on a new strand and waits for its result. Call only from outside the runtime's threads (blocking a
  // runtime thread on its own work can deadlock). An exception escaping fn is rethrown here.
  template <class T>
  T block_on(std::function<Task<T>()> fn);
  // Same, with T deduced: rt.block_on([&]() -> Task<int> { co_return 1; }).
  template <class F>
  auto block_on(F fn) -> typename std::invoke_result_t<F&>::value_type {
    using T = typename std::invoke_result_t<F&>::value_type;
    return block_on<T>(std::function<Task<T>()>(std::move(fn)));
  }

  // True on one of this runtime's threads.
  bool in_runtime_thread() const;

  // Stops the io_context (pending coroutines are abandoned) and joins the threads. Idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Suspends the calling coroutine; other work keeps running on the thread.
Task<void> sleep_for(std::chrono::milliseconds duration);

// Runs `a` and `b` concurrently on the calling coroutine's executor and returns when both are done: the first error
// (a's if both failed), else success. For full-duplex pumps, e.g. upload request chunks upstream while relaying
// response chunks back. The calling coroutine must run on a strand (server handlers and Runtime::spawn/block_on
// coroutines do), and each side must eventually finish on its own (I/O timeouts guarantee that for this layer's I/O).
Task<Status> run_concurrently(Task<Status> a, Task<Status> b);

template <class T>
T Runtime::block_on(std::function<Task<T>()> fn) {
  std::promise<T> promise;
  auto future = promise.get_future();
  spawn([&promise, fn = std::move(fn)]() -> Task<void> {
    try {
      if constexpr (std::is_void_v<T>) {
        co_await fn();
        promise.set_value();
      } else {
        promise.set_value(co_await fn());
      }
    } catch (...) {
      promise.set_exception(std::current_exception());
    }
  });
  return future.get();
}

}  // namespace openpcc::net
