// Helpers for the engine tests: a test engine in a temporary model directory, and HTTP calls from outside the runtime
// that record each response piece with its arrival time.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "net/client.h"
#include "net/runtime.h"
#include "services/engine/test_engine.h"
#include "services/engine/test_model.h"
#include "support/temp_dir.h"

namespace openpcc::engine::testing {

using Clock = std::chrono::steady_clock;

struct Piece {
  std::string data;
  Clock::time_point arrived;
};

struct Streamed {
  int status = 0;
  net::Headers headers;
  std::vector<Piece> pieces;
  std::optional<Error> error;  // a failed read (the pieces before it are kept)
  Clock::time_point sent;
  Clock::time_point ended;

  std::string body() const {
    std::string all;
    for (const auto& p : pieces) all += p.data;
    return all;
  }
};

// A test engine serving from a fresh model directory.
class EngineFixture {
 public:
  explicit EngineFixture(std::chrono::milliseconds token_delay = std::chrono::milliseconds(0)) {
    EXPECT_TRUE(init_test_model(dir_.path() / "model"));
    TestEngineConfig config;
    config.model_dir = dir_.path() / "model";
    config.token_delay = token_delay;
    auto engine = TestEngine::start(config);
    EXPECT_TRUE(engine.has_value()) << engine.error().to_string();
    if (engine) engine_ = std::move(*engine);
  }

  TestEngine& engine() { return *engine_; }
  std::string url(std::string_view path = "") const { return engine_->url() + std::string(path); }
  const std::filesystem::path& dir() const { return dir_.path(); }

 private:
  test_support::TempDir dir_{"openpcc-engine-test"};
  std::unique_ptr<TestEngine> engine_;
};

inline net::Client make_client() {
  auto client = net::Client::create();
  EXPECT_TRUE(client.has_value());
  return std::move(*client);
}

// Sends a request and reads the response piece by piece, stamping each piece as it arrives.
inline Streamed stream_request(net::Runtime& rt, net::ClientRequest request) {
  net::Client client = make_client();
  return rt.block_on([&]() -> net::Task<Streamed> {
    Streamed out;
    out.sent = Clock::now();
    auto stream = co_await client.send(std::move(request));
    if (!stream) {
      out.error = stream.error();
      co_return out;
    }
    out.status = (*stream)->status();
    out.headers = (*stream)->headers();
    for (;;) {
      auto piece = co_await (*stream)->read_chunk();
      if (!piece) {
        out.error = piece.error();
        break;
      }
      if (!*piece) break;
      out.pieces.push_back(Piece{to_string(**piece), Clock::now()});
    }
    out.ended = Clock::now();
    co_return out;
  });
}

inline Streamed post_json(net::Runtime& rt, const std::string& url, const std::string& json) {
  net::Headers headers{{"Content-Type", "application/json"}};
  return stream_request(rt, net::ClientRequest("POST", url, to_bytes(json), std::move(headers)));
}

inline Streamed get(net::Runtime& rt, const std::string& url) {
  return stream_request(rt, net::ClientRequest("GET", url));
}

inline nlohmann::json parse_json(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(json.is_discarded()) << text;
  return json;
}

// The JSON payloads of an SSE body's `data:` lines, and whether it ended with `data: [DONE]`.
struct SseEvents {
  std::vector<nlohmann::json> events;
  bool done = false;
  bool well_formed = true;  // every event is one `data: ` line followed by an empty line, nothing after [DONE]
};

inline SseEvents parse_sse(const std::string& body) {
  SseEvents out;
  size_t at = 0;
  while (at < body.size()) {
    const size_t end = body.find("\n\n", at);
    if (end == std::string::npos || out.done) {
      out.well_formed = false;
      break;
    }
    std::string event = body.substr(at, end - at);
    at = end + 2;
    if (!event.starts_with("data: ") || event.find('\n') != std::string::npos) {
      out.well_formed = false;
      continue;
    }
    event = event.substr(6);
    if (event == "[DONE]") {
      out.done = true;
      continue;
    }
    out.events.push_back(parse_json(event));
  }
  return out;
}

inline std::vector<nlohmann::json> parse_ndjson(const std::string& body, bool* well_formed = nullptr) {
  std::vector<nlohmann::json> lines;
  size_t at = 0;
  bool ok = body.empty() || body.back() == '\n';
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    lines.push_back(parse_json(body.substr(at, end - at)));
    at = end + 1;
  }
  if (well_formed) *well_formed = ok;
  return lines;
}

// What the test engine answers to `echo` within max_tokens words, as one text.
inline std::string expected_text(std::string_view echo, size_t max_tokens) {
  std::string text;
  for (const auto& word : test_completion_tokens(default_test_model(), echo, max_tokens)) {
    if (!text.empty()) text += ' ';
    text += word;
  }
  return text;
}

}  // namespace openpcc::engine::testing
