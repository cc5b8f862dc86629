// Test-data helpers: whole files, txtar archives (`-- name --` lines start sections) and PEM-style blocks inside them.
// Header-only; returns std::nullopt for anything missing or malformed, so tests can ASSERT on presence.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"

namespace openpcc::test_support {

inline std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::optional<Bytes> read_binary_file(const std::filesystem::path& path) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  return to_bytes(*text);
}

// The body of section `name` of a txtar archive: the lines after "-- name --" up to the next "-- ... --" line or the
// end of the archive.
inline std::optional<std::string> txtar_section(std::string_view archive, std::string_view name) {
  const auto is_marker = [](std::string_view line) {
    return line.size() >= 6 && line.starts_with("-- ") && line.ends_with(" --");
  };
  std::optional<std::string> body;
  size_t pos = 0;
  while (pos < archive.size()) {
    size_t end = archive.find('\n', pos);
    if (end == std::string_view::npos) end = archive.size();
    std::string_view line = archive.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_marker(line)) {
      if (body) return body;  // the next section starts
      if (line.substr(3, line.size() - 6) == name) body.emplace();
    } else if (body) {
      body->append(archive.substr(pos, end - pos));
      body->push_back('\n');
    }
    pos = end + 1;
  }
  return body;
}

// The decoded base64 body of the first "-----BEGIN <label>-----" … "-----END <label>-----" block in `text`; any label
// when `label` is empty.
inline std::optional<Bytes> pem_block(std::string_view text, std::string_view label = {}) {
  size_t begin = 0;
  std::string found_label;
  while (true) {
    begin = text.find("-----BEGIN ", begin);
    if (begin == std::string_view::npos) return std::nullopt;
    const size_t label_start = begin + 11;
    const size_t label_end = text.find("-----", label_start);
    if (label_end == std::string_view::npos) return std::nullopt;
    found_label = std::string(text.substr(label_start, label_end - label_start));
    begin = label_end + 5;
    if (label.empty() || found_label == label) break;
  }
  const size_t end = text.find("-----END " + found_label + "-----", begin);
  if (end == std::string_view::npos) return std::nullopt;
  std::string b64;
  for (char c : text.substr(begin, end - begin)) {
    if (c != '\n' && c != '\r' && c != ' ' && c != '\t') b64.push_back(c);
  }
  auto decoded = from_base64(b64);
  if (!decoded) return std::nullopt;
  return *decoded;
}

// Every PEM block (with `label`, or any label when empty) in `text`, in order, e.g. the certificates of a chain.
inline std::vector<Bytes> pem_blocks(std::string_view text, std::string_view label = {}) {
  std::vector<Bytes> out;
  size_t pos = 0;
  while (true) {
    const size_t begin = text.find("-----BEGIN ", pos);
    if (begin == std::string_view::npos) break;
    const size_t label_end = text.find("-----", begin + 11);
    if (label_end == std::string_view::npos) break;
    const std::string block_label(text.substr(begin + 11, label_end - begin - 11));
    const std::string end_line = "-----END " + block_label + "-----";
    const size_t end = text.find(end_line, label_end);
    if (end == std::string_view::npos) break;
    if (label.empty() || block_label == label) {
      auto block = pem_block(text.substr(begin, end + end_line.size() - begin));
      if (!block) break;
      out.push_back(std::move(*block));
    }
    pos = end + end_line.size();
  }
  return out;
}

// read_file + txtar_section + pem_block in one step.
inline std::optional<Bytes> txtar_pem(const std::filesystem::path& archive_path, std::string_view section,
                                      std::string_view label = {}) {
  auto archive = read_file(archive_path);
  if (!archive) return std::nullopt;
  auto body = txtar_section(*archive, section);
  if (!body) return std::nullopt;
  return pem_block(*body, label);
}

}  // namespace openpcc::test_support
