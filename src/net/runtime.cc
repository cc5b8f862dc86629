#include "net/runtime.h"

#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace openpcc::net {

namespace asio = boost::asio;

struct Runtime::Impl {
  asio::io_context context;
  asio::executor_work_guard<asio::io_context::executor_type> work{context.get_executor()};
  std::vector<std::thread> threads;
  std::mutex mutex;
  bool stopped = false;
};

namespace {

// The coroutine owns `fn` (a parameter lives in the frame), so whatever fn captured outlives the task it returns.
Task<void> run_owned(std::function<Task<void>()> fn) { co_await fn(); }

}  // namespace

Runtime::Runtime(unsigned threads) : impl_(std::make_unique<Impl>()) {
  if (threads == 0) threads = 1;
  for (unsigned i = 0; i < threads; ++i) {
    impl_->threads.emplace_back([ctx = &impl_->context] {
      // Exceptions never escape our coroutines (co_spawn completion handlers catch them), but a stray one from a
      // user completion handler must not take the process down silently.
      for (;;) {
        try {
          ctx->run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("runtime: exception escaped a handler: {}", e.what());
        }
      }
    });
  }
}

Runtime::~Runtime() { stop(); }

asio::io_context& Runtime::context() { return impl_->context; }

void Runtime::spawn(std::function<Task<void>()> fn) {
  asio::co_spawn(asio::make_strand(impl_->context), run_owned(std::move(fn)), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("runtime: spawned task failed: {}", ex.what());
    } catch (...) {
      spdlog::error("runtime: spawned task failed with a non-standard exception");
    }
  });
}

bool Runtime::in_runtime_thread() const {
  const auto id = std::this_thread::get_id();
  for (const auto& t : impl_->threads) {
    if (t.get_id() == id) return true;
  }
  return false;
}

void Runtime::stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return;
    impl_->stopped = true;
  }
  impl_->work.reset();
  impl_->context.stop();
  for (auto& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
}

Task<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

Task<Status> run_concurrently(Task<Status> a, Task<Status> b) {
  auto executor = co_await asio::this_coro::executor;
  struct Shared {
    explicit Shared(const asio::any_io_executor& ex) : done(ex, asio::steady_timer::time_point::max()) {}
    std::optional<Status> b_result;
    asio::steady_timer done;  // used as an event: cancelled when b finishes
  };
  auto shared = std::make_shared<Shared>(executor);
  // b's completion runs on `executor` (our strand), so b_result needs no lock.
  asio::co_spawn(executor, std::move(b), [shared](std::exception_ptr e, Status result) {
    if (e) result = make_error(ErrorCode::kInternal, "concurrent task threw");
    shared->b_result = std::move(result);
    shared->done.cancel();
  });
  Status a_result;
  try {
    a_result = co_await std::move(a);
  } catch (const std::exception& e) {
    a_result = make_error(ErrorCode::kInternal, std::string("concurrent task threw: ") + e.what());
  }
  while (!shared->b_result) {
    boost::system::error_code ec;
    co_await shared->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!a_result) co_return a_result;
  co_return *shared->b_result;
}

}  // namespace openpcc::net
