#include "client/wallet/async_signal.h"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace openpcc::wallet {

struct AsyncSignal::Waiter {
  explicit Waiter(boost::asio::any_io_executor executor) : timer(std::move(executor)) {}
  boost::asio::steady_timer timer;
};

AsyncSignal::AsyncSignal() = default;
AsyncSignal::~AsyncSignal() = default;

uint64_t AsyncSignal::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

net::Task<void> AsyncSignal::wait(uint64_t seen, std::chrono::milliseconds timeout) {
  auto executor = co_await boost::asio::this_coro::executor;
  auto waiter = std::make_shared<Waiter>(executor);
  waiter->timer.expires_after(std::max(timeout, std::chrono::milliseconds(0)));
  {
    std::lock_guard lock(mu_);
    if (generation_ != seen) co_return;
    waiters_.push_back(waiter);
  }
  // The timer is only touched on this coroutine's executor (notify posts its cancel there), so no data race.
  boost::system::error_code ignored;
  co_await waiter->timer.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
  std::lock_guard lock(mu_);
  waiters_.erase(std::remove(waiters_.begin(), waiters_.end(), waiter), waiters_.end());
}

void AsyncSignal::notify() {
  std::vector<std::shared_ptr<Waiter>> woken;
  {
    std::lock_guard lock(mu_);
    ++generation_;
    woken.swap(waiters_);
  }
  for (auto& waiter : woken) {
    auto executor = waiter->timer.get_executor();
    boost::asio::post(executor, [waiter] { waiter->timer.cancel(); });
  }
}

}  // namespace openpcc::wallet
