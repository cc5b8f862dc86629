#include "client/openai_proxy/upstream.h"

#include <algorithm>

#include "client/request.h"
#include "client/request_step.h"

namespace openpcc::client::openai_proxy {
namespace {

// The model list comes from the nodes a lookup verifies; each is an attestation check, so a list asks for at most
// this many (a fleet's models repeat across its nodes).
constexpr size_t kMaxNodesForModelList = 64;

class PrivateResponse final : public UpstreamResponse {
 public:
  explicit PrivateResponse(std::unique_ptr<Response> response) : response_(std::move(response)) {}
  int status() const override { return response_->status(); }
  const net::Headers& headers() const override { return response_->headers(); }
  net::Task<Result<std::optional<Bytes>>> read_chunk() override { return response_->read_chunk(); }
  std::string node_id() const override { return response_->node().id; }

 private:
  std::unique_ptr<Response> response_;
};

class PrivateUpstream final : public Upstream {
 public:
  PrivateUpstream(Client& client, std::vector<std::string> fixed_models)
      : client_(client), fixed_models_(std::move(fixed_models)) {
    std::sort(fixed_models_.begin(), fixed_models_.end());
    fixed_models_.erase(std::unique(fixed_models_.begin(), fixed_models_.end()), fixed_models_.end());
  }

  net::Task<Result<std::unique_ptr<UpstreamResponse>>> send(PrivateRequest request) override {
    Request inner;
    inner.method = "POST";
    inner.path = std::move(request.target);
    inner.headers.set("Content-Type", kJsonMediaType);
    inner.body = std::move(request.body);
    // The tags are set here from the model the proxy already read (and checked) rather than by the client's
    // request_tags(), which would parse the body a second time.
    inner.tags = client_.config().default_tags;
    const bool has_model_tag = std::any_of(inner.tags.begin(), inner.tags.end(),
                                           [](const std::string& t) { return t.starts_with(kModelTagPrefix); });
    if (!has_model_tag) inner.tags.push_back(std::string(kModelTagPrefix) + request.model);
    inner.raw_status = true;
    auto response = co_await client_.request(std::move(inner));
    if (!response) co_return std::unexpected(std::move(response.error()));
    co_return std::make_unique<PrivateResponse>(std::move(*response));
  }

  net::Task<Result<std::vector<std::string>>> models() override {
    if (!fixed_models_.empty()) co_return fixed_models_;
    auto nodes = co_await client_.node_finder().find(client_.config().default_tags, kMaxNodesForModelList);
    std::vector<std::string> models;
    if (!nodes) {
      // No node at all is an empty list; a failed lookup (routing, auth, nodes refused by policy) an error.
      const Error& e = nodes.error();
      if (e.code == ErrorCode::kNotFound && step_of(e) == Step::kNoVerifiedNode &&
          e.message.find("none passed the trust policy") == std::string::npos) {
        co_return models;
      }
      co_return std::unexpected(step_error(Step::kNoVerifiedNode, e));
    }
    for (const auto& node : *nodes) {
      for (const auto& tag : node->tags) {
        if (tag.starts_with(kModelTagPrefix) && tag.size() > kModelTagPrefix.size()) {
          models.push_back(tag.substr(kModelTagPrefix.size()));
        }
      }
    }
    std::sort(models.begin(), models.end());
    models.erase(std::unique(models.begin(), models.end()), models.end());
    co_return models;
  }

 private:
  Client& client_;
  std::vector<std::string> fixed_models_;
};

}  // namespace

UpstreamResponse::~UpstreamResponse() = default;
Upstream::~Upstream() = default;

std::shared_ptr<Upstream> private_upstream(Client& client, std::vector<std::string> fixed_models) {
  return std::make_shared<PrivateUpstream>(client, std::move(fixed_models));
}

}  // namespace openpcc::client::openai_proxy
