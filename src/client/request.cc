#include "client/request.h"

#include <algorithm>
#include <array>

#include <nlohmann/json.hpp>

#include "client/request_step.h"
#include "common/json_parse.h"
#include "wire/bhttp_encoder.h"

namespace openpcc::client {
namespace {

namespace bhttp = wire::bhttp;

constexpr size_t kMaxTagBytes = 512;
constexpr std::array<std::string_view, 4> kPromptPaths = {"/api/generate", "/api/chat", "/v1/completions",
                                                          "/v1/chat/completions"};

bool has_model_tag(const std::vector<std::string>& tags) {
  return std::any_of(tags.begin(), tags.end(), [](const std::string& t) { return t.starts_with(kModelTagPrefix); });
}

// Fields the client sets itself, or that must not cross into the inner request.
std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return out;
}

bool is_client_owned(std::string_view name) {
  return net::iequals(name, "Host") || net::iequals(name, "Content-Length") ||
         net::iequals(name, currency::kBadgeHeader);
}

}  // namespace

bool is_prompt_path(std::string_view path) {
  // Origin form is path [ "?" query ]; only the path part names the endpoint.
  path = path.substr(0, path.find('?'));
  return std::find(kPromptPaths.begin(), kPromptPaths.end(), path) != kPromptPaths.end();
}

std::optional<std::string> model_of(ByteSpan json_body) {
  auto json = parse_json(json_body);
  if (!json || !json->is_object()) return std::nullopt;
  auto it = json->find("model");
  if (it == json->end() || !it->is_string()) return std::nullopt;
  std::string model = it->get<std::string>();
  if (model.empty()) return std::nullopt;
  return model;
}

Result<std::vector<std::string>> request_tags(const Request& request, const std::vector<std::string>& default_tags) {
  std::vector<std::string> tags = request.tags.empty() ? default_tags : request.tags;
  if (is_prompt_path(request.path) && !has_model_tag(tags)) {
    auto model = model_of(request.body);
    if (!model) {
      return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument,
                             request.path + " runs a model: give a \"model\" in the JSON body or a model= tag");
    }
    tags.push_back(std::string(kModelTagPrefix) + *model);
  }
  for (const auto& tag : tags) {
    if (tag.empty() || tag.size() > kMaxTagBytes) {
      return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument,
                             "a node tag must have 1.." + std::to_string(kMaxTagBytes) + " bytes");
    }
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

Result<bhttp::Request> build_inner_request(const Request& request, const currency::Badge& badge) {
  if (request.path.empty() || request.path.front() != '/' || !bhttp::is_valid_control_field(request.path)) {
    return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument,
                           "the path must be origin form (\"/v1/chat/completions\"), without spaces or controls");
  }
  if (!bhttp::is_valid_method(request.method)) {
    return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument, "invalid method \"" + request.method + "\"");
  }
  auto badge_header = badge.to_header();
  if (!badge_header) return std::unexpected(step_error(Step::kAuth, wrap_error("badge", badge_header.error())));

  bhttp::Request inner;
  inner.method = request.method;
  inner.scheme = "http";
  inner.authority = std::string(kUserRequestHost);
  inner.path = request.path;
  bool has_content_type = false;
  for (const auto& [name, value] : net::without_hop_by_hop(request.headers, /*drop_content_length=*/true)) {
    if (is_client_owned(name)) continue;
    if (!bhttp::is_valid_field_name(name) || !bhttp::is_valid_field_value(value)) {
      return make_step_error(Step::kRequest, ErrorCode::kInvalidArgument, "header \"" + name + "\" is not valid");
    }
    has_content_type = has_content_type || net::iequals(name, "Content-Type");
    inner.headers.push_back({lowercase(name), value});
  }
  if (!has_content_type) inner.headers.push_back({"content-type", std::string(kJsonMediaType)});
  inner.headers.push_back({"content-length", std::to_string(request.body.size())});
  inner.headers.push_back({lowercase(currency::kBadgeHeader), *badge_header});
  inner.body = request.body;
  return inner;
}

Result<Bytes> encode_inner_request(const bhttp::Request& request) {
  auto encoded = bhttp::encode(request, bhttp::fixed_size_profile(bhttp::kComputeMessageChunkLen));
  if (!encoded) return std::unexpected(step_error(Step::kRequest, wrap_error("bhttp", encoded.error())));
  return encoded;
}

}  // namespace openpcc::client
