#include "client/openai_proxy/stream_relay.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace openpcc::client::openai_proxy {
namespace {

std::string text(const Bytes& b) { return std::string(b.begin(), b.end()); }

// Feeds `input` in pieces cut at `cuts` (sorted offsets) and returns what came out after each piece, plus finish().
std::vector<std::string> relay_pieces(StreamRelay& relay, std::string_view input, const std::vector<size_t>& cuts) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t cut : cuts) {
    out.push_back(text(relay.feed(as_bytes(input.substr(at, cut - at)))));
    at = cut;
  }
  out.push_back(text(relay.feed(as_bytes(input.substr(at)))));
  out.push_back(text(relay.finish()));
  return out;
}

std::string joined(const std::vector<std::string>& pieces) {
  std::string all;
  for (const auto& p : pieces) all += p;
  return all;
}

const std::string kEvent1 = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n";
const std::string kEvent2 = "data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\"usage\":null}\n\n";
const std::string kUsageEvent = "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n";
const std::string kDone = "data: [DONE]\n\n";

TEST(StreamRelayTest, EachCompleteEventGoesOutAtOnce) {
  StreamRelay relay(StreamFormat::kServerSentEvents);
  EXPECT_EQ(text(relay.feed(as_bytes(kEvent1))), kEvent1);
  // Half an event waits for its end; the other half releases it together with the next complete one.
  const std::string both = kEvent2 + kDone;
  EXPECT_EQ(text(relay.feed(as_bytes(std::string_view(both).substr(0, 10)))), "");
  EXPECT_EQ(text(relay.feed(as_bytes(std::string_view(both).substr(10)))), both);
  EXPECT_EQ(text(relay.finish()), "");
}

TEST(StreamRelayTest, EverySplitPointGivesTheSameBytes) {
  const std::string stream = kEvent1 + kEvent2 + kUsageEvent + kDone;
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamRelay relay(StreamFormat::kServerSentEvents);
    auto pieces = relay_pieces(relay, stream, {cut});
    EXPECT_EQ(joined(pieces), stream) << "cut at " << cut;
    // Never a partial event: every non-empty output ends on a blank line.
    for (const auto& p : pieces) {
      if (!p.empty()) {
        EXPECT_TRUE(p.ends_with("\n\n")) << "cut at " << cut << ": " << p;
      }
    }
  }
}

TEST(StreamRelayTest, ByteByByteTheFirstEventLeavesWithItsLastByte) {
  StreamRelay relay(StreamFormat::kServerSentEvents);
  for (size_t i = 0; i + 1 < kEvent1.size(); ++i) {
    EXPECT_EQ(text(relay.feed(as_bytes(std::string_view(kEvent1).substr(i, 1)))), "") << i;
  }
  EXPECT_EQ(text(relay.feed(as_bytes(std::string_view(kEvent1).substr(kEvent1.size() - 1)))), kEvent1);
}

TEST(StreamRelayTest, CrLfLineEndsAndMultiLineEvents) {
  const std::string crlf = "event: x\r\ndata: {\"a\":1}\r\n\r\n";
  const std::string multi = "data: one\ndata: two\n\n";
  StreamRelay relay(StreamFormat::kServerSentEvents);
  EXPECT_EQ(text(relay.feed(as_bytes(crlf.substr(0, crlf.size() - 1)))), "");
  EXPECT_EQ(text(relay.feed(as_bytes(crlf.substr(crlf.size() - 1)))), crlf);
  EXPECT_EQ(text(relay.feed(as_bytes(multi))), multi);
}

TEST(StreamRelayTest, CommentOnlyEventsArePaddingAndLeftOut) {
  const std::string padding = ":" + std::string(40, ' ') + "\n\n";
  const std::string input = "data: {\"a\":1}\n\n" + padding + "data: [DONE]\n\n" + padding;
  StreamRelay relay(StreamFormat::kServerSentEvents);
  std::string out = text(relay.feed(as_bytes(input)));
  out += text(relay.finish());
  EXPECT_EQ(out, "data: {\"a\":1}\n\ndata: [DONE]\n\n");
  // Padding left without its blank line at the very end, and a comment inside a data event (which stays).
  StreamRelay tail(StreamFormat::kServerSentEvents);
  out = text(tail.feed(as_bytes(std::string("data: x\n\n:   "))));
  out += text(tail.finish());
  EXPECT_EQ(out, "data: x\n\n");
  StreamRelay mixed(StreamFormat::kServerSentEvents);
  EXPECT_EQ(text(mixed.feed(as_bytes(std::string(": note\ndata: y\n\n")))), ": note\ndata: y\n\n");
}

TEST(StreamRelayTest, UsageOnlyEventsAreDroppedOnlyWhenAsked) {
  const std::string stream = kEvent1 + kUsageEvent + kDone;
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamRelay keep(StreamFormat::kServerSentEvents, /*drop_usage_only_events=*/false);
    EXPECT_EQ(joined(relay_pieces(keep, stream, {cut})), stream);
    StreamRelay drop(StreamFormat::kServerSentEvents, /*drop_usage_only_events=*/true);
    EXPECT_EQ(joined(relay_pieces(drop, stream, {cut})), kEvent1 + kDone) << "cut at " << cut;
    EXPECT_EQ(drop.dropped_events(), 1u);
  }
  // Chunks with choices and a usage member, or a null usage, pass: only choices == [] with a usage object goes.
  const std::string with_choices = "data: {\"choices\":[{\"text\":\"x\"}],\"usage\":{\"prompt_tokens\":1}}\n\n";
  const std::string null_usage = "data: {\"choices\":[],\"usage\":null}\n\n";
  StreamRelay drop(StreamFormat::kServerSentEvents, true);
  EXPECT_EQ(relay_pieces(drop, with_choices + null_usage, {})[0], with_choices + null_usage);
  // A last usage event without its blank line is dropped at finish() too.
  StreamRelay tail(StreamFormat::kServerSentEvents, true);
  EXPECT_EQ(joined(relay_pieces(tail, kEvent1 + kUsageEvent.substr(0, kUsageEvent.size() - 2), {})), kEvent1);
}

TEST(StreamRelayTest, ErrorRecordIsAnEventOfItsOwn) {
  const std::string error = R"({"error":{"message":"node: cut","type":"api_error","param":null,"code":"node_failed"}})";
  // After whole events, with a partial one held back (it is discarded).
  StreamRelay relay(StreamFormat::kServerSentEvents);
  std::string out = text(relay.feed(as_bytes(kEvent1 + kEvent2.substr(0, 12))));
  out += text(relay.error_record(error));
  EXPECT_EQ(out, kEvent1 + "data: " + error + "\n\n");
  // Before anything was forwarded.
  StreamRelay fresh(StreamFormat::kServerSentEvents);
  EXPECT_EQ(text(fresh.error_record(error)), "data: " + error + "\n\n");
  // The error event's data parses as the JSON it carries.
  auto parsed = nlohmann::json::parse(error);
  EXPECT_EQ(parsed["error"]["code"], "node_failed");
}

TEST(StreamRelayTest, OversizedEventsPassInPiecesAndAnErrorStillStandsAlone) {
  StreamRelay relay(StreamFormat::kServerSentEvents, false, /*max_record_bytes=*/16);
  const std::string big = "data: " + std::string(40, 'x');
  EXPECT_EQ(text(relay.feed(as_bytes(big))), big);  // over the limit: passed on without waiting
  EXPECT_EQ(text(relay.error_record("{\"error\":1}")), "\n\ndata: {\"error\":1}\n\n");
  StreamRelay line_end(StreamFormat::kServerSentEvents, false, 16);
  const std::string big_line = "data: " + std::string(40, 'y') + "\n";
  EXPECT_EQ(text(line_end.feed(as_bytes(big_line))), big_line);
  EXPECT_EQ(text(line_end.error_record("{}")), "\ndata: {}\n\n");
}

TEST(StreamRelayTest, NdjsonLinesAndErrors) {
  const std::string l1 = "{\"response\":\"a\",\"done\":false}\n";
  const std::string l2 = "{\"response\":\"\",\"done\":true,\"eval_count\":1}\n";
  const std::string stream = l1 + l2;
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    StreamRelay relay(StreamFormat::kNdjson, /*drop_usage_only_events=*/true);  // no effect on NDJSON
    auto pieces = relay_pieces(relay, stream, {cut});
    EXPECT_EQ(joined(pieces), stream) << cut;
    for (const auto& p : pieces) {
      if (!p.empty()) {
        EXPECT_TRUE(p.ends_with("\n")) << cut;
      }
    }
  }
  StreamRelay relay(StreamFormat::kNdjson);
  std::string out = text(relay.feed(as_bytes(l1 + "{\"resp")));
  out += text(relay.error_record(R"({"error":"node: cut"})"));
  EXPECT_EQ(out, l1 + "{\"error\":\"node: cut\"}\n");
  // A last line without its newline comes out at the end.
  StreamRelay last(StreamFormat::kNdjson);
  EXPECT_EQ(joined(relay_pieces(last, "{\"a\":1}", {})), "{\"a\":1}");
}

TEST(StreamRelayTest, BinaryBytesPassUnchanged) {
  std::string all;
  for (int i = 0; i < 256; ++i) {
    if (i != '\n') all += static_cast<char>(i);
  }
  const std::string event = "data: " + all + "\n\n";
  StreamRelay relay(StreamFormat::kServerSentEvents, true);
  EXPECT_EQ(joined(relay_pieces(relay, event + event, {7, 300, 301})), event + event);
  StreamRelay lines(StreamFormat::kNdjson);
  EXPECT_EQ(joined(relay_pieces(lines, all + "\n" + all, {1, 255})), all + "\n" + all);
}

}  // namespace
}  // namespace openpcc::client::openai_proxy
