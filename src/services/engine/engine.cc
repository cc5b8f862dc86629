#include "services/engine/engine.h"

#include <array>
#include <span>

#include <nlohmann/json.hpp>

#include "common/json_parse.h"
#include "net/url.h"

namespace openpcc::engine {
namespace {

constexpr std::array kOpenAiPaths{kOpenAiCompletionsPath, kOpenAiChatCompletionsPath};
constexpr std::array kOllamaPaths{kOllamaGeneratePath, kOllamaChatPath, kOpenAiCompletionsPath,
                                  kOpenAiChatCompletionsPath};

// Model lists are small; a bigger answer is not the list we asked for.
constexpr uint64_t kMaxModelListBytes = 4 << 20;

class HttpEngineResponse final : public EngineResponse {
 public:
  explicit HttpEngineResponse(std::unique_ptr<net::ClientStream> stream) : stream_(std::move(stream)) {
    const auto type = stream_->headers().get("Content-Type");
    content_type_ = type ? std::string(*type) : std::string("application/octet-stream");
  }

  int status() const override { return stream_->status(); }
  std::string_view content_type() const override { return content_type_; }
  net::Task<Result<std::optional<Bytes>>> read_chunk() override {
    auto piece = co_await stream_->read_chunk();
    if (!piece) co_return std::unexpected(wrap_error("engine response", piece.error()));
    co_return std::move(*piece);
  }

 private:
  std::unique_ptr<net::ClientStream> stream_;
  std::string content_type_;
};

// Both adapters speak plain HTTP to the engine and pass the path through; they differ in the paths they accept and
// in how they list models.
class HttpEngine final : public Engine {
 public:
  HttpEngine(std::string_view kind, std::span<const std::string_view> paths, std::string base_url, net::Client client)
      : kind_(kind), paths_(paths), base_url_(std::move(base_url)), client_(std::move(client)) {}

  net::Task<Result<std::unique_ptr<EngineResponse>>> generate(EngineRequest request) override {
    if (!serves(request.path)) {
      co_return make_error(ErrorCode::kUnsupported,
                           "engine: a " + std::string(kind_) + " engine does not serve " + request.path);
    }
    // A fresh request with only what the engine needs (the reference drops every client header).
    net::Headers headers{{"Content-Type", "application/json"},
                         {"Accept", "application/json, application/x-ndjson, text/event-stream"}};
    net::ClientRequest upstream("POST", base_url_ + request.path, std::move(request.body), std::move(headers));
    auto stream = co_await client_.send(std::move(upstream));
    if (!stream) co_return std::unexpected(wrap_error("engine", stream.error()));
    co_return std::make_unique<HttpEngineResponse>(std::move(*stream));
  }

  bool serves(std::string_view path) const override {
    for (auto p : paths_) {
      if (p == path) return true;
    }
    return false;
  }

  std::string_view kind() const override { return kind_; }

  net::Task<Result<std::vector<std::string>>> list_models() override {
    const bool ollama = kind_ == kOllamaKind;
    net::ClientRequest request("GET", base_url_ + (ollama ? "/api/tags" : "/v1/models"));
    auto stream = co_await client_.send(std::move(request));
    if (!stream) co_return std::unexpected(wrap_error("engine", stream.error()));
    if ((*stream)->status() != 200) {
      co_return make_error(ErrorCode::kUnavailable,
                           "engine: model list answered with status " + std::to_string((*stream)->status()));
    }
    Bytes body;
    for (;;) {
      auto piece = co_await (*stream)->read_chunk();
      if (!piece) co_return std::unexpected(wrap_error("engine model list", piece.error()));
      if (!*piece) break;
      if (body.size() + (*piece)->size() > kMaxModelListBytes) {
        co_return make_error(ErrorCode::kLimitExceeded, "engine: model list larger than 4 MiB");
      }
      append(body, **piece);
    }
    co_return parse_model_list(body, ollama);
  }

 private:
  static Result<std::vector<std::string>> parse_model_list(ByteSpan body, bool ollama) {
    auto parsed = parse_json(body);
    const char* list_key = ollama ? "models" : "data";
    const char* name_key = ollama ? "name" : "id";
    const nlohmann::json json = parsed ? std::move(*parsed) : nlohmann::json();
    if (!json.is_object() || !json.contains(list_key) || !json[list_key].is_array()) {
      return make_error(ErrorCode::kDecode, std::string("engine: model list is not a JSON object with a \"") +
                                                list_key + "\" array");
    }
    std::vector<std::string> names;
    for (const auto& entry : json[list_key]) {
      if (!entry.is_object() || !entry.contains(name_key) || !entry[name_key].is_string()) {
        return make_error(ErrorCode::kDecode, std::string("engine: a model list entry has no string \"") +
                                                  name_key + "\"");
      }
      names.push_back(entry[name_key].get<std::string>());
    }
    return names;
  }

  std::string_view kind_;
  std::span<const std::string_view> paths_;
  std::string base_url_;  // scheme://authority[/prefix], no trailing slash
  net::Client client_;
};

}  // namespace

EngineResponse::~EngineResponse() = default;
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> make_engine(std::string_view url, net::ClientOptions options) {
  std::string_view kind = kOpenAiKind;
  std::span<const std::string_view> paths = kOpenAiPaths;
  std::string_view rest = url;
  if (rest.starts_with("openai+")) {
    rest.remove_prefix(7);
  } else if (rest.starts_with("ollama+")) {
    rest.remove_prefix(7);
    kind = kOllamaKind;
    paths = kOllamaPaths;
  } else if (const auto plus = rest.find('+'); plus != std::string_view::npos && plus < rest.find(':')) {
    return make_error(ErrorCode::kInvalidArgument,
                      "engine URL: unknown kind '" + std::string(rest.substr(0, plus)) + "' (openai+ or ollama+)");
  }
  if (rest.find('#') != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "engine URL: a fragment is not allowed");
  }
  auto parsed = net::parse_url(rest);
  if (!parsed) return std::unexpected(wrap_error("engine URL", parsed.error()));
  std::string prefix = parsed->target;
  if (prefix.find('?') != std::string::npos) {
    return make_error(ErrorCode::kInvalidArgument, "engine URL: a query is not allowed");
  }
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  auto client = net::Client::create(std::move(options));
  if (!client) return std::unexpected(wrap_error("engine client", client.error()));
  std::string base = parsed->scheme + "://" + parsed->authority() + prefix;
  return std::make_unique<HttpEngine>(kind, paths, std::move(base), std::move(*client));
}

}  // namespace openpcc::engine
