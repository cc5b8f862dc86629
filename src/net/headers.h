// An ordered list of HTTP header (or trailer) fields with case-insensitive lookup.
//
// Kept free of Boost so that every service can include it. Field order and duplicates are preserved, which is what a
// proxy needs to forward fields faithfully. Names and values are validated when a message is written (see
// is_valid_field_name / is_valid_field_value): a value with CR, LF or NUL is refused there, so user data cannot inject
// extra header lines.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace openpcc::net {

class Headers {
 public:
  using Field = std::pair<std::string, std::string>;  // name as given, value

  Headers() = default;
  Headers(std::initializer_list<Field> fields) : fields_(fields) {}

  // Appends a field; an existing field with the same name is kept (HTTP allows repeats).
  void add(std::string_view name, std::string_view value);
  // Replaces every field named `name` with one field.
  void set(std::string_view name, std::string_view value);
  // Removes every field named `name`; returns how many were removed.
  size_t remove(std::string_view name);

  // The first value of `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const;
  // Every value of `name` in order.
  std::vector<std::string_view> get_all(std::string_view name) const;
  bool contains(std::string_view name) const { return get(name).has_value(); }

  bool empty() const { return fields_.empty(); }
  size_t size() const { return fields_.size(); }
  const std::vector<Field>& fields() const { return fields_; }
  auto begin() const { return fields_.begin(); }
  auto end() const { return fields_.end(); }

  friend bool operator==(const Headers&, const Headers&) = default;

 private:
  std::vector<Field> fields_;
};

// ASCII case-insensitive equality, as header names compare.
bool iequals(std::string_view a, std::string_view b);

// RFC 9110 token characters only, non-empty.
bool is_valid_field_name(std::string_view name);
// No CR, LF or NUL (obs-fold and bare control characters other than HTAB are refused too).
bool is_valid_field_value(std::string_view value);

// Hop-by-hop fields (RFC 9110 §7.6.1) that a proxy must not forward: Connection, Keep-Alive, Proxy-Connection,
// TE, Transfer-Encoding, Upgrade, plus any field named in a Connection header. Content-Length is end-to-end but this
// HTTP layer sets it itself; pass `drop_content_length` to drop it as well.
Headers without_hop_by_hop(const Headers& headers, bool drop_content_length = false);

}  // namespace openpcc::net
