#include "services/computenode/response_padding.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace openpcc::computenode {
namespace {

std::string str(const Bytes& b) { return std::string(b.begin(), b.end()); }

// An SSE parser after the HTML spec's rules (the parts engines use): lines end with CRLF, LF or CR; a line starting
// with ':' is a comment; a blank line dispatches the event if its data is not empty; an unfinished event at the end
// is dropped.
std::vector<std::string> sse_events(std::string_view s) {
  std::vector<std::string> events;
  std::string data;
  bool has_data = false;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = i;
    while (end < s.size() && s[end] != '\n' && s[end] != '\r') ++end;
    if (end == s.size()) break;  // a line without its line break: not complete
    const std::string_view line = s.substr(i, end - i);
    i = end + 1;
    if (s[end] == '\r' && i < s.size() && s[i] == '\n') ++i;
    if (line.empty()) {
      if (has_data) events.push_back(data);
      data.clear();
      has_data = false;
      continue;
    }
    if (line.front() == ':') continue;
    const size_t colon = line.find(':');
    const std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "data") {
      if (has_data) data += '\n';
      data += value;
      has_data = true;
    }
  }
  return events;
}

// Complete NDJSON lines with content, parsed.
std::vector<nlohmann::json> ndjson_lines(std::string_view s) {
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  for (size_t nl = s.find('\n'); nl != std::string_view::npos; start = nl + 1, nl = s.find('\n', start)) {
    const std::string_view line = s.substr(start, nl - start);
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    lines.push_back(nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return lines;
}

// Removes what the padder adds to an SSE stream without comments of its own.
std::string strip_sse(std::string_view s) {
  std::string out;
  size_t i = 0;
  bool line_start = true;
  while (i < s.size()) {
    if (line_start && s[i] == ':') {
      size_t j = i + 1;
      while (j < s.size() && s[j] == ' ') ++j;
      const std::string_view rest = s.substr(j);
      const std::string_view lb = rest.starts_with("\r\n") ? "\r\n" : "\n";
      if (rest.starts_with(std::string(lb) + std::string(lb))) {
        i = j + 2 * lb.size();
        continue;
      }
      if (rest == lb) break;  // the comment line at the very end
    }
    line_start = s[i] == '\n' || s[i] == '\r';
    out += s[i++];
  }
  return out;
}

// Removes spaces before line breaks (and at the end): what the padder adds to NDJSON and JSON without such spaces.
std::string strip_trailing_spaces(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ') {
      size_t j = i;
      while (j < s.size() && s[j] == ' ') ++j;
      if (j == s.size() || s[j] == '\n' || s[j] == '\r') {
        i = j;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

struct PadRun {
  std::vector<std::string> pieces;  // what feed() returned, one entry per call (possibly empty)
  std::string last;                 // what finish() returned
  std::string all;                  // everything in order
};

// Feeds `pieces` one by one and checks the invariants that hold for every syntax after each call.
PadRun run_padder(ResponsePadder& padder, const std::vector<std::string>& pieces, size_t block) {
  PadRun run;
  for (const auto& p : pieces) {
    Bytes out;
    padder.feed(as_bytes(p), out);
    if (block > 0 && padder.padding()) {
      EXPECT_EQ(out.size() % block, 0u) << "piece of " << out.size();
    }
    run.pieces.push_back(str(out));
    run.all += str(out);
  }
  Bytes out;
  padder.finish(out);
  run.last = str(out);
  run.all += run.last;
  Bytes again;
  padder.finish(again);
  padder.feed(as_bytes(std::string("x")), again);
  EXPECT_TRUE(again.empty()) << "nothing after finish";
  return run;
}

std::string openai_event(const std::string& token) {
  return "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1763750000,\"model\":\"m\","
         "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" +
         token + "\"},\"finish_reason\":null}]}\n\n";
}

std::vector<std::string> random_splits(const std::string& s, std::mt19937& rng, size_t max_piece) {
  std::vector<std::string> pieces;
  std::uniform_int_distribution<size_t> len(1, max_piece);
  for (size_t i = 0; i < s.size();) {
    const size_t n = std::min(len(rng), s.size() - i);
    pieces.push_back(s.substr(i, n));
    i += n;
  }
  return pieces;
}

TEST(PaddingSyntax, FromContentType) {
  EXPECT_EQ(padding_syntax("text/event-stream"), PaddingSyntax::kEventStream);
  EXPECT_EQ(padding_syntax("Text/Event-Stream; charset=utf-8"), PaddingSyntax::kEventStream);
  EXPECT_EQ(padding_syntax("application/x-ndjson"), PaddingSyntax::kNdjson);
  EXPECT_EQ(padding_syntax("application/ndjson"), PaddingSyntax::kNdjson);
  EXPECT_EQ(padding_syntax("application/json; charset=utf-8"), PaddingSyntax::kJson);
  EXPECT_EQ(padding_syntax("application/problem+json"), PaddingSyntax::kJson);
  EXPECT_EQ(padding_syntax("text/plain"), PaddingSyntax::kNone);
  EXPECT_EQ(padding_syntax("application/octet-stream"), PaddingSyntax::kNone);
  EXPECT_EQ(padding_syntax(""), PaddingSyntax::kNone);
  EXPECT_EQ(padding_syntax("application/jsonx"), PaddingSyntax::kNone);
}

TEST(ResponsePadder, SseOneEventPerPieceIsPaddedAtOnce) {
  std::vector<std::string> pieces;
  std::string input;
  for (const char* token : {"Hi", " there", ",", " how", " extraordinarily", " are", " you"}) {
    pieces.push_back(openai_event(token));
    input += pieces.back();
  }
  pieces.push_back("data: [DONE]\n\n");
  input += pieces.back();
  ResponsePadder padder("text/event-stream", 256);
  const PadRun run = run_padder(padder, pieces, 256);
  // Every complete event goes out with the piece that completed it, padded to the same size whatever the token.
  std::string so_far;
  for (size_t i = 0; i < pieces.size(); ++i) {
    so_far += pieces[i];
    EXPECT_EQ(run.pieces[i].size(), 256u) << i;
    EXPECT_EQ(sse_events(run.pieces[i]), sse_events(pieces[i])) << i;
  }
  EXPECT_TRUE(run.last.empty());
  EXPECT_EQ(strip_sse(run.all), input);
  EXPECT_EQ(sse_events(run.all), sse_events(input));
  EXPECT_EQ(sse_events(run.all).size(), 8u);
}

TEST(ResponsePadder, SsePartialEventIsHeldUntilComplete) {
  ResponsePadder padder("text/event-stream", 256);
  Bytes out;
  padder.feed(as_bytes(std::string("data: {\"a\":")), out);
  EXPECT_TRUE(out.empty()) << "half an event is held";
  padder.feed(as_bytes(std::string("1}\n")), out);
  EXPECT_TRUE(out.empty()) << "an event is complete only with its blank line";
  padder.feed(as_bytes(std::string("\ndata: {\"b\"")), out);
  ASSERT_EQ(out.size(), 256u);
  EXPECT_EQ(sse_events(str(out)), std::vector<std::string>{"{\"a\":1}"});
  EXPECT_EQ(str(out).find("{\"b\""), std::string::npos) << "the next event's start waits";
  Bytes rest;
  padder.feed(as_bytes(std::string(":2}\n\n")), rest);
  ASSERT_EQ(rest.size(), 256u);
  EXPECT_EQ(sse_events(str(rest)), std::vector<std::string>{"{\"b\":2}"});
}

TEST(ResponsePadder, SseRandomSplitsNeverDelayACompleteEvent) {
  std::mt19937 rng(7);
  std::string input = ": engine comment kept as is\n\n";
  for (int i = 0; i < 20; ++i) input += openai_event(std::string(static_cast<size_t>(rng() % 40), 'x'));
  input += "event: done\nid: 7\ndata: line one\ndata: line two\n\n";
  input += "data: [DONE]\n\n";
  for (size_t block : {1u, 2u, 3u, 16u, 100u, 256u, 4096u}) {
    for (size_t max_piece : {1u, 7u, 300u, 5000u}) {
      const auto pieces = random_splits(input, rng, max_piece);
      ResponsePadder padder(PaddingSyntax::kEventStream, block);
      PadRun run;
      std::string in_so_far, out_so_far;
      for (const auto& p : pieces) {
        Bytes out;
        padder.feed(as_bytes(p), out);
        ASSERT_EQ(out.size() % block, 0u);
        in_so_far += p;
        out_so_far += str(out);
        ASSERT_EQ(sse_events(out_so_far), sse_events(in_so_far)) << "block " << block << " piece " << max_piece;
      }
      Bytes out;
      padder.finish(out);
      EXPECT_EQ(out.size() % block, 0u) << "the stream ends after a complete event: the end is padded too";
      out_so_far += str(out);
      // The engine's own comment stays; ours go.
      std::string stripped = strip_sse(out_so_far);
      EXPECT_EQ(stripped, input) << "block " << block << " piece " << max_piece;
      EXPECT_EQ(sse_events(out_so_far), sse_events(input));
    }
  }
}

TEST(ResponsePadder, SseCrlfStreamsGetCrlfComments) {
  const std::string input = "data: one\r\n\r\ndata: two\r\n\r\n";
  ResponsePadder padder("text/event-stream", 64);
  const PadRun run = run_padder(padder, {input.substr(0, 12), input.substr(12, 1), input.substr(13)}, 64);
  EXPECT_EQ(run.pieces[0].size(), 0u) << "the blank line's CR: its LF may follow";
  EXPECT_EQ(run.pieces[1].size(), 64u);
  EXPECT_EQ(run.pieces[2].size(), 64u);
  EXPECT_EQ(run.all.find("\n\n"), std::string::npos) << "no bare LF line breaks in a CRLF stream";
  EXPECT_EQ(sse_events(run.all), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(strip_sse(run.all), input);
}

TEST(ResponsePadder, SseStreamEndingMidEventKeepsItUnfinished) {
  {
    ResponsePadder padder("text/event-stream", 32);
    const PadRun run = run_padder(padder, {"data: a\n\ndata: cut\n"}, 32);
    EXPECT_EQ(run.pieces[0].size() + run.last.size(), 64u);
    EXPECT_EQ(run.all.size() % 32, 0u) << "a comment line pads the end";
    EXPECT_EQ(sse_events(run.all), std::vector<std::string>{"a"}) << "the unfinished event is not completed";
    EXPECT_EQ(strip_sse(run.all), "data: a\n\ndata: cut\n");
  }
  {
    ResponsePadder padder("text/event-stream", 32);
    const PadRun run = run_padder(padder, {"data: a\n\ndata: cut mid-li", "ne"}, 32);
    EXPECT_EQ(run.last, "data: cut mid-line") << "no place to pad in a line: the end goes out as is";
    EXPECT_EQ(sse_events(run.all), std::vector<std::string>{"a"});
  }
}

TEST(ResponsePadder, SseHugeEventsGoOutInWholeBlocksWithoutWaiting) {
  const std::string big = "data: " + std::string(100'000, 'z') + "\n\n";
  for (size_t piece : {1000u, 100'006u}) {
    std::vector<std::string> pieces;
    for (size_t i = 0; i < big.size(); i += piece) pieces.push_back(big.substr(i, piece));
    ResponsePadder padder("text/event-stream", 256);
    const PadRun run = run_padder(padder, pieces, 256);
    size_t sent = 0;
    for (size_t i = 0; i + 1 < pieces.size(); ++i) {
      sent += run.pieces[i].size();
      EXPECT_GT(sent + 256, (i + 1) * piece) << "less than one block is held";
    }
    EXPECT_EQ(run.last, "");
    EXPECT_EQ(run.all.size() % 256, 0u);
    EXPECT_EQ(sse_events(run.all), std::vector<std::string>{std::string(100'000, 'z')});
    EXPECT_EQ(strip_sse(run.all), big);
  }
}

TEST(ResponsePadder, NdjsonLinesParseToTheSameJson) {
  std::mt19937 rng(11);
  std::string input;
  for (int i = 0; i < 15; ++i) {
    nlohmann::json line = {{"model", "m"}, {"response", std::string(rng() % 30, 'w')}, {"done", false}};
    input += line.dump() + "\n";
  }
  input += "{\"model\":\"m\",\"done\":true,\"eval_count\":15}\n";
  for (size_t block : {1u, 5u, 256u, 1024u}) {
    for (size_t max_piece : {1u, 13u, 200u, 10'000u}) {
      const auto pieces = random_splits(input, rng, max_piece);
      ResponsePadder padder("application/x-ndjson", block);
      std::string in_so_far, out_so_far;
      for (const auto& p : pieces) {
        Bytes out;
        padder.feed(as_bytes(p), out);
        ASSERT_EQ(out.size() % block, 0u);
        in_so_far += p;
        out_so_far += str(out);
        ASSERT_EQ(ndjson_lines(out_so_far), ndjson_lines(in_so_far)) << "a complete line is never held";
      }
      Bytes out;
      padder.finish(out);
      EXPECT_EQ(out.size() % block, 0u);
      out_so_far += str(out);
      EXPECT_EQ(strip_trailing_spaces(out_so_far), input);
      const auto lines = ndjson_lines(out_so_far);
      ASSERT_EQ(lines.size(), 16u);
      for (const auto& l : lines) EXPECT_FALSE(l.is_discarded());
      EXPECT_EQ(lines, ndjson_lines(input));
    }
  }
}

TEST(ResponsePadder, NdjsonPadsBeforeTheLineBreakAndALastLineWithoutOne) {
  ResponsePadder padder("application/x-ndjson", 32);
  const PadRun run = run_padder(padder, {"{\"a\":1}\r\n", "{\"b\":2}"}, 32);
  EXPECT_EQ(run.pieces[0], "{\"a\":1}" + std::string(23, ' ') + "\r\n") << "spaces before CRLF, not inside it";
  EXPECT_EQ(run.last, "{\"b\":2}" + std::string(25, ' '));
  EXPECT_EQ(nlohmann::json::parse(run.last), (nlohmann::json{{"b", 2}}));
}

TEST(ResponsePadder, JsonIsPaddedAfterTheDocument) {
  const std::string doc = R"({"id":"x","choices":[{"message":{"content":"hello"}}],"usage":{"prompt_tokens":3}})";
  for (size_t piece : {1u, 10u, 1000u}) {
    std::vector<std::string> pieces;
    for (size_t i = 0; i < doc.size(); i += piece) pieces.push_back(doc.substr(i, piece));
    ResponsePadder padder("application/json", 16);
    const PadRun run = run_padder(padder, pieces, 16);
    EXPECT_EQ(run.all.size() % 16, 0u);
    EXPECT_EQ(run.all.substr(0, doc.size()), doc);
    EXPECT_EQ(run.all.find_first_not_of(' ', doc.size()), std::string::npos);
    EXPECT_EQ(nlohmann::json::parse(run.all), nlohmann::json::parse(doc));
  }
}

TEST(ResponsePadder, OffWhenTheBlockIsZeroOrTheTypeHasNoSyntax) {
  const std::vector<std::string> pieces{"data: a\n", "\n", "data: b"};
  for (auto [type, block] : {std::pair<std::string, size_t>{"text/event-stream", 0}, {"text/plain", 256},
                             {"application/octet-stream", 16}, {"application/x-ndjson", 0}}) {
    ResponsePadder padder(type, block);
    EXPECT_FALSE(padder.padding());
    const PadRun run = run_padder(padder, pieces, block);
    ASSERT_EQ(run.pieces.size(), pieces.size());
    for (size_t i = 0; i < pieces.size(); ++i) EXPECT_EQ(run.pieces[i], pieces[i]) << "pieces pass through as is";
    EXPECT_EQ(run.last, "");
  }
  ResponsePadder on("text/event-stream", 256);
  EXPECT_TRUE(on.padding());
}

TEST(ResponsePadder, SameSizesForTokensOfDifferentLengths) {
  // What the padding is for: two answers with as many tokens, of different lengths, look the same.
  auto sizes = [](const std::vector<std::string>& tokens) {
    ResponsePadder padder("text/event-stream", 256);
    std::vector<size_t> out;
    for (const auto& t : tokens) {
      Bytes piece;
      padder.feed(as_bytes(openai_event(t)), piece);
      out.push_back(piece.size());
    }
    return out;
  };
  EXPECT_EQ(sizes({"a", "b", "c", "d"}), sizes({"Lorem", " ipsum", " dolor", " sit amet, consectetur"}));
}

}  // namespace
}  // namespace openpcc::computenode
