// Internal to openpcc_store: a bounded pool of connections, one lent to each running transaction.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "common/error.h"

namespace openpcc::store {

template <class Connection>
class ConnectionPool {
 public:
  explicit ConnectionPool(int max_connections) : max_(max_connections < 1 ? 1 : max_connections) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A connection on loan; it goes back to the pool when the lease ends, unless discard() was called (a connection in
  // an unknown state is closed rather than reused).
  class Lease {
   public:
    Lease(ConnectionPool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (pool_) pool_->give_back(std::move(conn_));
    }
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }
    bool discarded() const { return !conn_; }
    void discard() { conn_.reset(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // An idle connection, a new one from open() while fewer than max are open, or else waits for one to come back.
  template <class Open>
  Result<Lease> acquire(Open&& open) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    Result<std::unique_ptr<Connection>> conn = open();
    if (!conn) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return std::unexpected(std::move(conn.error()));
    }
    return Lease(this, std::move(*conn));
  }

 private:
  void give_back(std::unique_ptr<Connection> conn) {
    {
      std::lock_guard lock(mu_);
      if (conn) {
        idle_.push_back(std::move(conn));
      } else {
        --open_;
      }
    }
    cv_.notify_one();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int open_ = 0;
  const int max_;
};

}  // namespace openpcc::store
