#include "services/computenode/response_padding.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "common/secure.h"

namespace openpcc::computenode {
namespace {

std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_json_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// The least padding ≥ `least` (unless none is needed) that brings `length` to a multiple of `block`.
size_t padding_for(size_t length, size_t block, size_t least) {
  size_t pad = (block - length % block) % block;
  while (pad != 0 && pad < least) pad += block;
  return pad;
}

}  // namespace

PaddingSyntax padding_syntax(std::string_view content_type) {
  const std::string type = lower_trimmed(content_type.substr(0, content_type.find(';')));
  if (type == "text/event-stream") return PaddingSyntax::kEventStream;
  if (type == "application/x-ndjson" || type == "application/ndjson") return PaddingSyntax::kNdjson;
  if (type == "application/json" || (type.starts_with("application/") && ends_with(type, "+json"))) {
    return PaddingSyntax::kJson;
  }
  return PaddingSyntax::kNone;
}

ResponsePadder::ResponsePadder(std::string_view content_type, size_t block)
    : ResponsePadder(padding_syntax(content_type), block) {}

ResponsePadder::ResponsePadder(PaddingSyntax syntax, size_t block) : syntax_(syntax), block_(block) {
  if (block_ == 0) syntax_ = PaddingSyntax::kNone;
}

ResponsePadder::~ResponsePadder() { wipe_held(); }

void ResponsePadder::wipe_held() {
  if (!held_.empty()) secure_wipe(held_.data(), held_.size());
  held_.clear();
}

void ResponsePadder::feed(ByteSpan piece, Bytes& out) {
  if (finished_ || piece.empty()) return;
  if (!padding()) {
    out.insert(out.end(), piece.begin(), piece.end());
    return;
  }
  const size_t from = held_.size();
  if (held_.capacity() < held_.size() + piece.size()) {
    // Grow by hand so that the old buffer is wiped before it is freed.
    Bytes grown;
    grown.reserve(std::max(held_.size() + piece.size(), 2 * block_));
    grown.assign(held_.begin(), held_.end());
    wipe_held();
    held_.swap(grown);
  }
  held_.insert(held_.end(), piece.begin(), piece.end());
  scan(from);
  emit(out, /*at_end=*/false);
}

void ResponsePadder::finish(Bytes& out) {
  if (finished_) return;
  finished_ = true;
  if (!padding() || held_.empty()) {
    wipe_held();
    return;
  }
  // A padding point at the very end, where the syntax has one there.
  const uint8_t last = held_.back();
  switch (syntax_) {
    case PaddingSyntax::kEventStream:
      if (cr_ended_boundary_) {  // the stream ended right after a blank line's CR
        has_point_ = true;
        point_ = held_.size();
        point_kind_ = PointKind::kEvent;
        point_crlf_ = false;
      } else if (!has_point_ && (last == '\n' || last == '\r')) {
        // An unfinished event ends the stream: a comment LINE keeps it unfinished (no blank line to dispatch it).
        has_point_ = true;
        point_ = held_.size();
        point_kind_ = PointKind::kLine;
        point_crlf_ = false;
      }
      break;
    case PaddingSyntax::kNdjson:
      if (!has_point_ && last != '\n' && line_has_content_) {  // a last line without a line break
        has_point_ = true;
        point_ = content_end_;
      }
      break;
    case PaddingSyntax::kJson:
      has_point_ = true;
      point_ = held_.size();
      break;
    case PaddingSyntax::kNone:
      break;
  }
  emit(out, /*at_end=*/true);
}

void ResponsePadder::scan(size_t from) {
  for (size_t i = from; i < held_.size(); ++i) {
    const uint8_t c = held_[i];
    if (syntax_ == PaddingSyntax::kEventStream) {
      if (cr_ended_boundary_) {
        // The blank line ended with CR: the event is complete after its LF, or right here if there is none.
        cr_ended_boundary_ = false;
        has_point_ = true;
        point_kind_ = PointKind::kEvent;
        if (c == '\n') {
          pending_cr_ = false;
          point_ = i + 1;
          point_crlf_ = true;
          continue;
        }
        point_ = i;
        point_crlf_ = false;
      }
      if (pending_cr_ && c == '\n') {  // the LF of a CRLF already counted at its CR
        pending_cr_ = false;
        continue;
      }
      pending_cr_ = false;
      if (c == '\n') {
        if (line_empty_) {  // a blank line: the event is complete
          has_point_ = true;
          point_ = i + 1;
          point_kind_ = PointKind::kEvent;
          point_crlf_ = false;
        }
        line_empty_ = true;
      } else if (c == '\r') {
        pending_cr_ = true;
        if (line_empty_) cr_ended_boundary_ = true;
        line_empty_ = true;
      } else {
        line_empty_ = false;
      }
    } else if (syntax_ == PaddingSyntax::kNdjson) {
      if (c == '\n') {
        if (line_has_content_) {  // padding goes right after the line's JSON text
          has_point_ = true;
          point_ = content_end_;
          through_ = i + 1;
        }
        line_has_content_ = false;
      } else if (!is_json_space(c)) {
        line_has_content_ = true;
        content_end_ = i + 1;
      }
    }
  }
}

void ResponsePadder::emit(Bytes& out, bool at_end) {
  size_t length = 0;  // bytes of held_ that go out now
  size_t pad = 0;
  if (has_point_) {
    const size_t through = syntax_ == PaddingSyntax::kNdjson ? through_ : point_;
    if (at_end) {
      length = held_.size();
    } else {
      // Through the point, then whatever follows in whole blocks (no padding needed for those).
      length = std::max(through, point_);
      length += (held_.size() - length) / block_ * block_;
    }
    size_t least = 1;
    if (syntax_ == PaddingSyntax::kEventStream) {
      const size_t line_break = point_crlf_ ? 2 : 1;
      least = point_kind_ == PointKind::kEvent ? 1 + 2 * line_break : 1 + line_break;
    }
    pad = padding_for(length, block_, least);
  } else {
    length = at_end ? held_.size() : held_.size() / block_ * block_;
  }
  if (length == 0 && pad == 0) return;

  out.reserve(out.size() + length + pad);
  if (pad == 0) {
    out.insert(out.end(), held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(length));
  } else {
    out.insert(out.end(), held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(point_));
    if (syntax_ == PaddingSyntax::kEventStream) {
      const std::string_view line_break = point_crlf_ ? "\r\n" : "\n";
      const size_t breaks = point_kind_ == PointKind::kEvent ? 2 : 1;
      out.push_back(':');
      out.insert(out.end(), pad - 1 - breaks * line_break.size(), ' ');
      for (size_t b = 0; b < breaks; ++b) out.insert(out.end(), line_break.begin(), line_break.end());
    } else {
      out.insert(out.end(), pad, ' ');
    }
    out.insert(out.end(), held_.begin() + static_cast<std::ptrdiff_t>(point_),
               held_.begin() + static_cast<std::ptrdiff_t>(length));
  }

  // Drop what went out; positions into held_ move with it. The rest moves to the front; the bytes it leaves behind
  // are wiped.
  const size_t before = held_.size();
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(length));
  held_.resize(before);  // zero-filled: overwrites the stale tail
  held_.resize(before - length);
  has_point_ = false;
  if (line_has_content_) {
    if (content_end_ >= length) {  // at 0: right after text that already went out
      content_end_ -= length;
    } else {
      line_has_content_ = false;  // this line's text already went out: no place left to pad it
    }
  }
  if (at_end) wipe_held();
}

}  // namespace openpcc::computenode
