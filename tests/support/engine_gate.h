// A token gate for the built-in test engine (engine::TokenGate, services/engine/test_engine.h) that a test steers
// from its own thread, to prove streaming by order of events instead of by timing:
//
//   test_support::EngineGate gate;
//   config.token_gate = gate.gate();       // TestEngineConfig (or FullStackOptions)
//   gate.allow(1);                         // token 0 may be written; the answer then waits before token 1
//   ... the client receives token 0 ...    // while the engine is provably not done
//   EXPECT_TRUE(gate.wait_until_held_at(1, 30s));
//   gate.open();                           // the rest of the answer
//
// allow(n) lets tokens with index < n through (index = the token count is the closing event); indices start at 0 in
// every answer, so run one gated answer at a time. The engine polls the gate every millisecond on its own runtime
// (never blocking a thread), so a held answer costs nothing else there. The gate function shares the object's
// state, so an engine that outlives the object is still safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <limits>
#include <memory>
#include <optional>
#include <thread>

#include "net/runtime.h"
#include "services/engine/test_engine.h"

namespace openpcc::test_support {

class EngineGate {
 public:
  static constexpr size_t kOpen = std::numeric_limits<size_t>::max();

  // Starts open: every token passes until allow() says otherwise.
  EngineGate() : state_(std::make_shared<State>()) {}

  engine::TokenGate gate() const {
    std::shared_ptr<State> state = state_;
    return [state](size_t index) -> net::Task<void> {
      while (index >= state->allowed.load()) {
        state->held_at.store(static_cast<long long>(index));
        co_await net::sleep_for(std::chrono::milliseconds(1));
      }
      state->held_at.store(-1);
      state->passed.store(static_cast<long long>(index));
    };
  }

  // Tokens with index < n pass; the next one waits.
  void allow(size_t n) { state_->allowed.store(n); }
  void open() { allow(kOpen); }

  // The index an answer waits at now, if one does.
  std::optional<size_t> held_at() const {
    const long long at = state_->held_at.load();
    if (at < 0) return std::nullopt;
    return static_cast<size_t>(at);
  }
  // The index last let through (-1: none yet). Within one answer indices only grow, so while a test runs one answer
  // at a time this is how far the engine got in it.
  long long passed() const { return state_->passed.load(); }

  // Polls until an answer waits at `index` (true), or `timeout` passes (false: the engine never got there).
  bool wait_until_held_at(size_t index, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (held_at() != index) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

 private:
  struct State {
    std::atomic<size_t> allowed{kOpen};
    std::atomic<long long> held_at{-1};
    std::atomic<long long> passed{-1};
  };
  std::shared_ptr<State> state_;
};

}  // namespace openpcc::test_support
