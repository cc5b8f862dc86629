// Secret hygiene: wiping, secret-holding buffers, constant-time comparison.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"

namespace openpcc {

// Overwrites memory in a way the compiler may not elide.
void secure_wipe(void* data, size_t size);

// Compares in time that depends only on the lengths. Use for MACs, tags, secrets.
bool ct_equal(ByteSpan a, ByteSpan b);

// An owned byte buffer for key material: wiped when destroyed or reassigned; move-only so copies do not scatter.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : data_(size, 0) {}
  explicit SecretBytes(ByteSpan b) : data_(b.begin(), b.end()) {}
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept {
    if (this != &other) {
      wipe();
      data_ = std::move(other.data_);
      other.data_.clear();
    }
    return *this;
  }
  ~SecretBytes() { wipe(); }

  // Deliberate, visible copy.
  SecretBytes clone() const { return SecretBytes(span()); }

  uint8_t* data() { return data_.data(); }
  const uint8_t* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  void resize(size_t n);
  ByteSpan span() const { return data_; }
  std::span<uint8_t> mutable_span() { return data_; }
  operator ByteSpan() const { return data_; }
  uint8_t& operator[](size_t i) { return data_[i]; }
  uint8_t operator[](size_t i) const { return data_[i]; }

 private:
  void wipe() {
    if (!data_.empty()) secure_wipe(data_.data(), data_.size());
  }
  std::vector<uint8_t> data_;
};

// Wipes a plain buffer on scope exit.
class WipeOnExit {
 public:
  explicit WipeOnExit(std::span<uint8_t> s) : s_(s) {}
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;
  ~WipeOnExit() { secure_wipe(s_.data(), s_.size()); }

 private:
  std::span<uint8_t> s_;
};

}  // namespace openpcc
