#include "transparency/checkpoint.h"

#include <string>

namespace openpcc::transparency {
namespace {

Result<uint64_t> parse_size(std::string_view s) {
  if (s.empty()) return make_error(ErrorCode::kDecode, "checkpoint: empty size line");
  if (s.size() > 1 && s[0] == '0') return make_error(ErrorCode::kDecode, "checkpoint: size has leading zeros");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return make_error(ErrorCode::kDecode, "checkpoint: size is not a decimal number");
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return make_error(ErrorCode::kDecode, "checkpoint: size does not fit 64 bits");
    v = v * 10 + d;
  }
  return v;
}

bool is_line(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

}  // namespace

std::string checkpoint_body(const Checkpoint& checkpoint) {
  std::string out =
      checkpoint.origin + "\n" + std::to_string(checkpoint.size) + "\n" + to_base64(checkpoint.root) + "\n";
  for (const std::string& line : checkpoint.extensions) out += line + "\n";
  return out;
}

Result<Checkpoint> parse_checkpoint(std::string_view body) {
  if (body.size() > kMaxNoteSize) return make_error(ErrorCode::kLimitExceeded, "checkpoint: too large");
  if (body.empty() || body.back() != '\n') return make_error(ErrorCode::kDecode, "checkpoint: must end in a newline");
  // What any note text must be (valid UTF-8, no control characters but newlines), so that every checkpoint that
  // parses can also be signed.
  if (auto s = check_note_text(body); !s) return make_error(ErrorCode::kDecode, "checkpoint: " + s.error().message);
  std::vector<std::string_view> lines;
  for (std::string_view rest = body; !rest.empty();) {
    size_t eol = rest.find('\n');
    lines.push_back(rest.substr(0, eol));
    rest.remove_prefix(eol + 1);
  }
  if (lines.size() < 3) return make_error(ErrorCode::kDecode, "checkpoint: fewer than three lines");
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!is_line(lines[i])) {
      return make_error(ErrorCode::kDecode,
                        "checkpoint: line " + std::to_string(i + 1) + " is empty or has control characters");
    }
  }
  Checkpoint out;
  out.origin = std::string(lines[0]);
  auto size = parse_size(lines[1]);
  if (!size) return std::unexpected(size.error());
  out.size = *size;
  auto root = from_base64(lines[2]);
  if (!root) return make_error(ErrorCode::kDecode, "checkpoint: root is not valid base64");
  auto hash = hash_from_bytes(*root);
  if (!hash) return make_error(ErrorCode::kDecode, "checkpoint: root is not 32 bytes");
  out.root = *hash;
  for (size_t i = 3; i < lines.size(); ++i) out.extensions.emplace_back(lines[i]);
  return out;
}

Result<std::string> sign_checkpoint(const Checkpoint& checkpoint, const NoteSigner& signer) {
  if (!is_line(checkpoint.origin) || checkpoint.origin.find('\n') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "checkpoint: the origin must be one non-empty line");
  }
  for (const std::string& line : checkpoint.extensions) {
    if (!is_line(line)) return make_error(ErrorCode::kInvalidArgument, "checkpoint: an extension line is empty");
  }
  return signer.sign_checked(checkpoint_body(checkpoint));
}

Result<Checkpoint> open_signed_checkpoint(std::string_view note, const NoteVerifier& verifier) {
  auto text = verifier.verify(note);
  if (!text) return std::unexpected(text.error());
  return parse_checkpoint(*text);
}

Result<Checkpoint> open_signed_checkpoint(std::string_view note, const NoteVerifier& verifier,
                                          std::string_view expected_origin) {
  auto checkpoint = open_signed_checkpoint(note, verifier);
  if (!checkpoint) return checkpoint;
  if (checkpoint->origin != expected_origin) {
    return make_error(ErrorCode::kAuthenticationFailed, "checkpoint: origin \"" + checkpoint->origin +
                                                            "\" is not the expected \"" +
                                                            std::string(expected_origin) + "\"");
  }
  return checkpoint;
}

}  // namespace openpcc::transparency
