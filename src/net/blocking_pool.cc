#include "net/blocking_pool.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace openpcc::net {

namespace asio = boost::asio;

struct BlockingPool::Impl {
  explicit Impl(unsigned threads) : threads(threads) {
    if (threads > 0) pool.emplace(threads);
  }
  unsigned threads;
  std::optional<asio::thread_pool> pool;
};

BlockingPool::BlockingPool(unsigned threads) : impl_(std::make_unique<Impl>(threads)) {}

BlockingPool::~BlockingPool() {
  if (impl_->pool) impl_->pool->join();
}

Task<void> BlockingPool::run_void(std::function<void()> fn) {
  if (!impl_->pool) {
    fn();
    co_return;
  }
  // The spawned coroutine runs on a pool thread; its completion is delivered to this coroutine's executor, so we
  // resume on our own strand.
  auto on_pool = [fn = std::move(fn)]() -> Task<void> {
    fn();
    co_return;
  };
  co_await asio::co_spawn(impl_->pool->get_executor(), std::move(on_pool), asio::use_awaitable);
}

}  // namespace openpcc::net
