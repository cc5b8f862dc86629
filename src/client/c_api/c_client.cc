// openpcc.h: clients and requests.
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include <boost/asio/strand.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "client/c_api/c_error.h"
#include "client/c_api/c_handles.h"
#include "client/client.h"
#include "client/client_config.h"
#include "client/request_step.h"
#include "common/json_parse.h"
#include "net/headers.h"

namespace openpcc::capi {
namespace {

namespace fs = std::filesystem;

// The library's I/O threads per client: enough for a crypto step and a socket at once; requests multiplex on them.
constexpr unsigned kRuntimeThreads = 2;

// A library must not write to its host's stdout: spdlog's stock default logger does, so the first client replaces
// it (only that stock logger: a host that installed its own keeps it) with one on stderr, at OPENPCC_LOG_LEVEL or
// warn.
void configure_logging_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      auto current = spdlog::default_logger();
      if (current && !current->name().empty()) return;
      auto logger =
          std::make_shared<spdlog::logger>("openpcc", std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
      auto level = spdlog::level::warn;
      if (const char* env = std::getenv("OPENPCC_LOG_LEVEL"); env != nullptr && *env != '\0') {
        level = spdlog::level::from_str(env);  // unknown names are "off"
      }
      logger->set_level(level);
      spdlog::set_default_logger(std::move(logger));
    } catch (...) {  // logging stays as it was
    }
  });
}

openpcc_status create_client(Result<client::ClientConfig> config, openpcc_client** out, openpcc_error** error) {
  if (!config) return fail(error, client::step_error(client::Step::kConfig, config.error()));
  configure_logging_once();
  auto state = std::make_shared<ClientState>();
  state->runtime = std::make_unique<net::Runtime>(kRuntimeThreads);
  auto created = client::Client::create(*state->runtime, std::move(*config));
  if (!created) return fail(error, created.error());
  state->client = std::move(*created);
  auto handle = std::make_unique<openpcc_client>();
  handle->state = std::move(state);
  *out = handle.release();
  return OPENPCC_OK;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The control headers (openpcc.h) go into the request; every other field travels to the node.
Status add_header(client::Request& request, std::string_view name, std::string_view value) {
  if (net::iequals(name, OPENPCC_HEADER_NODE_TAGS)) {
    request.tags.clear();
    size_t start = 0;
    while (start <= value.size()) {
      const size_t comma = std::min(value.find(',', start), value.size());
      const auto tag = trim(value.substr(start, comma - start));
      if (!tag.empty()) request.tags.emplace_back(tag);
      start = comma + 1;
    }
    return {};
  }
  if (net::iequals(name, OPENPCC_HEADER_CREDIT_AMOUNT)) {
    const auto text = trim(value);
    int64_t amount = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), amount);
    if (ec != std::errc() || end != text.data() + text.size() || amount <= 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        std::string("request: ") + OPENPCC_HEADER_CREDIT_AMOUNT + " is not a positive integer");
    }
    request.credit_amount = amount;
    return {};
  }
  request.headers.add(name, value);
  return {};
}

// The coroutines run from named C++ functions: GCC 12 mangles two coroutine lambdas of one extern "C" function to
// the same symbol.
Status close_client(ClientState& state) {
  auto strand = boost::asio::make_strand(state.runtime->context());
  return run_on<Status>(strand, [&]() -> net::Task<Status> { co_return co_await state.client->close(); });
}

Result<std::unique_ptr<client::Response>> send_request(ClientState& state, const Strand& strand,
                                                       client::Request request) {
  return run_on<Result<std::unique_ptr<client::Response>>>(
      strand, [&]() -> net::Task<Result<std::unique_ptr<client::Response>>> {
        co_return co_await state.client->request(std::move(request));
      });
}

}  // namespace
}  // namespace openpcc::capi

using namespace openpcc;
using capi::fail;
using capi::guarded;

extern "C" {

openpcc_status openpcc_client_create(const char* config_path, openpcc_client** client, openpcc_error** error) {
  return guarded(error, "openpcc_client_create", [&]() -> openpcc_status {
    if (client == nullptr) return fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "openpcc_client_create: client is NULL");
    *client = nullptr;
    if (config_path == nullptr || *config_path == '\0') {
      return fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "openpcc_client_create: config_path is NULL or empty");
    }
    return capi::create_client(client::load_client_config(config_path), client, error);
  });
}

openpcc_status openpcc_client_create_from_json(const char* json, size_t json_length, const char* base_dir,
                                               openpcc_client** client, openpcc_error** error) {
  return guarded(error, "openpcc_client_create_from_json", [&]() -> openpcc_status {
    if (client == nullptr) {
      return fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "openpcc_client_create_from_json: client is NULL");
    }
    *client = nullptr;
    if (json == nullptr) return fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "openpcc_client_create_from_json: json is NULL");
    auto parsed = parse_json(std::string_view(json, json_length), {.allow_comments = true});
    if (!parsed) {
      return fail(error, OPENPCC_ERR_CONFIG, "config: the client config is not valid JSON (" + parsed.error().message + ")");
    }
    std::error_code ec;
    const std::filesystem::path base =
        base_dir != nullptr && *base_dir != '\0' ? std::filesystem::path(base_dir) : std::filesystem::current_path(ec);
    if (ec) return fail(error, OPENPCC_ERR_CONFIG, "config: the current directory: " + ec.message());
    return capi::create_client(client::parse_client_config(*parsed, std::filesystem::absolute(base)), client, error);
  });
}

openpcc_status openpcc_client_close(openpcc_client* client, openpcc_error** error) {
  return guarded(error, "openpcc_client_close", [&]() -> openpcc_status {
    if (client == nullptr) return fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "openpcc_client_close: client is NULL");
    auto& state = *client->state;
    std::lock_guard lock(state.close_mutex);
    if (state.close_done) return OPENPCC_OK;  // the wallet has stopped; there is nothing left to do
    state.closed = true;
    auto closed = capi::close_client(state);
    state.close_done = true;
    if (!closed) return fail(error, capi::status_of(closed.error()), "close: " + closed.error().message);
    return OPENPCC_OK;
  });
}

void openpcc_client_free(openpcc_client* client) {
  // Destroying the Client and Runtime joins threads and closes files: nothing in there throws in practice, and a
  // C caller could not handle it anyway.
  try {
    delete client;
  } catch (...) {
  }
}

openpcc_status openpcc_client_request(openpcc_client* client, const char* method, const char* path,
                                      const openpcc_header* headers, size_t header_count, const void* body,
                                      size_t body_length, openpcc_response** response, openpcc_error** error) {
  return guarded(error, "openpcc_client_request", [&]() -> openpcc_status {
    constexpr auto kInvalid = OPENPCC_ERR_INVALID_ARGUMENT;
    if (response == nullptr) return fail(error, kInvalid, "openpcc_client_request: response is NULL");
    *response = nullptr;
    if (client == nullptr) return fail(error, kInvalid, "openpcc_client_request: client is NULL");
    if (method == nullptr || !net::is_valid_field_name(method)) {
      return fail(error, kInvalid, "request: the method is NULL or not an HTTP token");
    }
    if (path == nullptr || *path != '/') {
      return fail(error, kInvalid, "request: the path is NULL or does not start with '/' (origin form)");
    }
    if (header_count > 0 && headers == nullptr) return fail(error, kInvalid, "request: headers is NULL");
    if (body_length > 0 && body == nullptr) return fail(error, kInvalid, "request: body is NULL");
    auto& state = client->state;
    if (state->closed) return fail(error, OPENPCC_ERR_STATE, "request: the client is closed");

    client::Request request;
    request.method = method;
    request.path = path;
    request.raw_status = true;  // an HTTP API: the caller reads statuses >= 400 and their bodies
    for (size_t i = 0; i < header_count; ++i) {
      const auto& h = headers[i];
      if ((h.name == nullptr && h.name_length > 0) || (h.value == nullptr && h.value_length > 0)) {
        return fail(error, kInvalid, "request: header " + std::to_string(i) + " has a NULL name or value");
      }
      const std::string_view name(h.name == nullptr ? "" : h.name, h.name_length);
      const std::string_view value(h.value == nullptr ? "" : h.value, h.value_length);
      if (!net::is_valid_field_name(name)) {
        return fail(error, kInvalid, "request: header " + std::to_string(i) + " has an invalid name");
      }
      if (!net::is_valid_field_value(value)) {
        return fail(error, kInvalid,
                    "request: the value of header " + std::string(name) + " holds CR, LF, NUL or a control byte");
      }
      if (auto ok = capi::add_header(request, name, value); !ok) return fail(error, ok.error());
    }
    const auto* bytes = static_cast<const uint8_t*>(body);
    if (body_length > 0) request.body.assign(bytes, bytes + body_length);

    auto handle = std::make_unique<openpcc_response>(state, boost::asio::make_strand(state->runtime->context()));
    auto answer = capi::send_request(*state, handle->strand, std::move(request));
    if (!answer) return fail(error, answer.error());
    handle->response = std::move(*answer);
    handle->status = handle->response->status();
    for (const auto& [name, value] : handle->response->headers()) handle->headers.emplace_back(name, value);
    handle->node_id = handle->response->node().id;
    handle->credit_value = handle->response->credit_value();
    *response = handle.release();
    return OPENPCC_OK;
  });
}

}  // extern "C"
