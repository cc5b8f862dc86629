#include "client/openai_proxy/stream_relay.h"
#include "common/json_parse.h"

#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

namespace openpcc::client::openai_proxy {
namespace {

std::string_view view(const Bytes& bytes, size_t from, size_t to) {
  return std::string_view(reinterpret_cast<const char*>(bytes.data()) + from, to - from);
}

void append(Bytes& out, std::string_view text) { out.insert(out.end(), text.begin(), text.end()); }

// The data of an SSE event: its "data:" lines' values (one leading space dropped) joined with "\n".
std::string event_data(std::string_view event) {
  std::string data;
  bool first = true;
  while (!event.empty()) {
    const size_t nl = event.find('\n');
    std::string_view line = event.substr(0, nl);
    event = nl == std::string_view::npos ? std::string_view() : event.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.starts_with("data:")) continue;
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (!first) data += '\n';
    data.append(line);
    first = false;
  }
  return data;
}

// True for an SSE event made only of comment lines (": …"), such as a node's response padding: it carries nothing an
// SSE client reads. Blank lines (the terminator) do not count.
bool is_comment_only_event(std::string_view event) {
  bool any_comment = false;
  while (!event.empty()) {
    const size_t nl = event.find('\n');
    std::string_view line = event.substr(0, nl);
    event = nl == std::string_view::npos ? std::string_view() : event.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.front() != ':') return false;
    any_comment = true;
  }
  return any_comment;
}

}  // namespace

StreamRelay::StreamRelay(StreamFormat format, bool drop_usage_only_events, size_t max_record_bytes)
    : format_(format), drop_usage_only_(drop_usage_only_events), max_record_(max_record_bytes) {}

bool StreamRelay::is_usage_only_event(std::string_view event) const {
  const std::string data = event_data(event);
  if (data.find("\"usage\"") == std::string::npos) return false;  // cheap test before parsing
  auto chunk = parse_json(data);
  if (!chunk || !chunk->is_object()) return false;
  auto choices = chunk->find("choices");
  auto usage = chunk->find("usage");
  return choices != chunk->end() && choices->is_array() && choices->empty() && usage != chunk->end() &&
         usage->is_object();
}

void StreamRelay::note_output(const Bytes& out) {
  if (out.empty()) return;
  forwarded_ += out.size();
  last_byte_ = static_cast<char>(out.back());
}

Bytes StreamRelay::take_events() {
  Bytes out;
  size_t consumed = 0;  // pending_[0, consumed) has been handed out or dropped
  size_t i = scanned_;
  while (i < pending_.size()) {
    const auto* start = pending_.data() + i;
    const auto* nl = static_cast<const uint8_t*>(std::memchr(start, '\n', pending_.size() - i));
    const size_t segment = nl ? static_cast<size_t>(nl - start) : pending_.size() - i;
    if (segment > 0 && line_len_ == 0) line_first_cr_ = *start == '\r';
    line_len_ += segment;
    if (!nl) break;
    i += segment + 1;
    const bool empty_line = line_len_ == 0 || (line_len_ == 1 && line_first_cr_);
    line_len_ = 0;
    if (!empty_line) continue;
    // A blank line ends the event: pending_[consumed, i) is complete.
    const std::string_view event = view(pending_, consumed, i);
    if (drop_usage_only_ && is_usage_only_event(event)) {
      ++dropped_;
    } else if (is_comment_only_event(event)) {
      // Padding is for the wire between node and client; the local caller gets the events alone (and a stream
      // that ends with its last data event, which some clients check).
    } else {
      append(out, event);
      at_boundary_ = true;
    }
    consumed = i;
  }
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(consumed));
  scanned_ = pending_.size();
  if (pending_.size() > max_record_) {  // an event without end in sight: pass it on as it comes
    out.insert(out.end(), pending_.begin(), pending_.end());
    pending_.clear();
    scanned_ = 0;
    at_boundary_ = false;
  }
  return out;
}

Bytes StreamRelay::take_lines() {
  Bytes out;
  size_t end = pending_.size();
  while (end > scanned_ && pending_[end - 1] != '\n') --end;
  if (end > scanned_) {  // bytes before scanned_ hold no line end
    out.assign(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(end));
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(end));
    at_boundary_ = true;
  }
  scanned_ = pending_.size();
  if (pending_.size() > max_record_) {
    out.insert(out.end(), pending_.begin(), pending_.end());
    pending_.clear();
    scanned_ = 0;
    at_boundary_ = false;
  }
  return out;
}

Bytes StreamRelay::feed(ByteSpan piece) {
  pending_.insert(pending_.end(), piece.begin(), piece.end());
  Bytes out = format_ == StreamFormat::kServerSentEvents ? take_events() : take_lines();
  note_output(out);
  return out;
}

Bytes StreamRelay::finish() {
  Bytes out;
  if (!pending_.empty()) {
    const bool sse = format_ == StreamFormat::kServerSentEvents;
    const std::string_view rest = view(pending_, 0, pending_.size());
    if (sse && drop_usage_only_ && is_usage_only_event(rest)) {
      ++dropped_;
    } else if (sse && is_comment_only_event(rest)) {
      // padding at the very end: left out as above
    } else {
      out = std::move(pending_);
      at_boundary_ = false;
    }
  }
  pending_.clear();
  scanned_ = 0;
  line_len_ = 0;
  note_output(out);
  return out;
}

Bytes StreamRelay::error_record(std::string_view error_json) {
  pending_.clear();
  scanned_ = 0;
  line_len_ = 0;
  Bytes out;
  if (forwarded_ > 0 && !at_boundary_) {
    // Close whatever record was passed on in pieces, so that the error is a record of its own.
    append(out, last_byte_ == '\n' ? "\n" : (format_ == StreamFormat::kServerSentEvents ? "\n\n" : "\n"));
  }
  if (format_ == StreamFormat::kServerSentEvents) {
    append(out, "data: ");
    append(out, error_json);
    append(out, "\n\n");
  } else {
    append(out, error_json);
    append(out, "\n");
  }
  at_boundary_ = true;
  note_output(out);
  return out;
}

}  // namespace openpcc::client::openai_proxy
