// What the C API's opaque handles hold, and how a blocking C call runs a coroutine of the client SDK.
//
// One ClientState per openpcc_client_create: a net::Runtime (its own I/O threads) and the client::Client on it. The
// client handle and every response handle share it (shared_ptr), so a response freed after its client still has
// the runtime and wallet it needs; whoever drops the last reference destroys the Client, then the Runtime (both from
// a caller's thread, never a runtime thread, as client.h requires).
//
// Strands: a request and everything later done with its response run on one strand of their own (the response's
// sockets and timers were created on it). Different requests, on different strands, run in parallel on the
// runtime's threads; the Client itself is safe for that (client.h).
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include "client/client.h"
#include "common/bytes.h"
#include "common/error.h"
#include "net/runtime.h"
#include "openpcc/openpcc.h"

namespace openpcc::capi {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

struct ClientState {
  ~ClientState() {
    client.reset();   // before the runtime its coroutines ran on
    runtime.reset();
  }

  std::unique_ptr<net::Runtime> runtime;
  std::unique_ptr<client::Client> client;
  std::atomic<bool> closed{false};  // close began: requests are refused
  std::mutex close_mutex;             // one close at a time; later ones find close_done
  bool close_done = false;
};

// Runs fn() on `strand` and blocks the calling (non-runtime) thread until it completes; an exception escaping fn is
// rethrown here (and stopped by capi::guarded).
template <class T>
T run_on(const Strand& strand, std::function<net::Task<T>()> fn) {
  std::promise<T> promise;
  auto future = promise.get_future();
  boost::asio::co_spawn(
      strand,
      [&promise, fn = std::move(fn)]() -> net::Task<void> {
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
      },
      [](std::exception_ptr) {});
  return future.get();
}

}  // namespace openpcc::capi

struct openpcc_client {
  std::shared_ptr<openpcc::capi::ClientState> state;
};

struct openpcc_response {
  openpcc_response(std::shared_ptr<openpcc::capi::ClientState> state_, openpcc::capi::Strand strand_)
      : state(std::move(state_)), strand(std::move(strand_)) {}

  std::shared_ptr<openpcc::capi::ClientState> state;
  openpcc::capi::Strand strand;
  std::unique_ptr<openpcc::client::Response> response;

  // Copies the accessors hand out pointers into (NUL-terminated for convenience).
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string node_id;
  int64_t credit_value = 0;

  // Serializes calls on this response (one thread at a time is the contract; misuse then waits).
  std::mutex mutex;
  openpcc::Bytes piece;     // the current decrypted piece: library-owned chunk memory
  size_t piece_offset = 0;  // how much of it was handed out
  std::atomic<bool> ended{false};
  std::atomic<int64_t> refund{-1};
  std::optional<openpcc::Error> error;  // sticky: every later read returns it
};
