#include "client/ohttp_transport.h"

#include <nlohmann/json.hpp>

#include <mutex>
#include <utility>
#include <variant>

#include "common/json_parse.h"
#include "common/secure.h"
#include "net/url.h"
#include "wire/bhttp.h"
#include "wire/ohttp.h"
#include "wire/ohttp_chunked.h"
#include "wire/ohttp_error.h"

namespace openpcc::client {

namespace bhttp = wire::bhttp;
namespace ohttp = wire::ohttp;
using net::Task;

namespace {

void wipe(Bytes& bytes) {
  if (!bytes.empty()) secure_wipe(bytes.data(), bytes.size());
  bytes.clear();
}

// The first (KDF, AEAD) of the config is what encapsulate_request uses; both must be ones we implement.
bool usable(const ohttp::KeyConfig& config) {
  if (config.algorithms.empty()) return false;
  auto kem = crypto::Kem::create(config.kem);
  return kem.has_value();
}

Result<bhttp::RequestHead> inner_head(const net::ClientRequest& inner) {
  auto url = net::parse_url(inner.url);
  if (!url) return std::unexpected(wrap_error("ohttp: inner request URL", url.error()));
  bhttp::RequestHead head;
  head.method = inner.method;
  head.scheme = url->scheme;
  head.authority = url->authority();
  head.path = url->target;
  for (const auto& [name, value] : inner.headers) {
    // BHTTP framing says what these would: the authority, the content length, the chunking.
    if (net::iequals(name, "Host") || net::iequals(name, "Content-Length") ||
        net::iequals(name, "Transfer-Encoding") || net::iequals(name, "Connection")) {
      continue;
    }
    if (!bhttp::is_valid_field_name(name) || !bhttp::is_valid_field_value(value)) {
      return make_error(ErrorCode::kInvalidArgument, "ohttp: inner header field " + name + " is not valid");
    }
    head.headers.push_back(bhttp::Field{name, value});
  }
  return head;
}

struct Encapsulated {
  Bytes body;
  std::string_view content_type;
  wire::ResponseSecrets secrets;
};

Result<Encapsulated> encapsulate_whole(const ohttp::KeyConfig& key, const net::ClientRequest& inner) {
  auto head = inner_head(inner);
  if (!head) return std::unexpected(head.error());
  bhttp::Request request;
  static_cast<bhttp::RequestHead&>(request) = std::move(*head);
  request.body = inner.body;
  bhttp::EncodeOptions options;
  options.framing = bhttp::Framing::kKnownLength;
  // The same padding as the streamed profile: the size says little about which request it is.
  options.pad_to_multiple_of = bhttp::kOhttpMessageChunkLen;
  auto encoded = bhttp::encode(request, options);
  wipe(request.body);
  if (!encoded) return std::unexpected(wrap_error("ohttp: inner request", encoded.error()));
  auto sealed = ohttp::encapsulate_request(key, *encoded);
  wipe(*encoded);
  if (!sealed) return std::unexpected(sealed.error());
  return Encapsulated{std::move(sealed->request), ohttp::kRequestMediaType, std::move(sealed->response_secrets)};
}

Result<Encapsulated> encapsulate_chunked(const ohttp::KeyConfig& key, const net::ClientRequest& inner) {
  auto head = inner_head(inner);
  if (!head) return std::unexpected(head.error());
  auto sealer = ohttp::ChunkedRequestSealer::create(key, {}, ohttp::openpcc_fixed_size_chunks());
  if (!sealer) return std::unexpected(sealer.error());
  bhttp::StreamEncoder encoder(bhttp::fixed_size_profile(bhttp::kOhttpMessageChunkLen));
  Bytes bhttp_bytes;
  Status ok = encoder.begin_request(*head, bhttp_bytes);
  if (ok) ok = encoder.body(inner.body, bhttp_bytes);
  if (ok) ok = encoder.finish({}, bhttp_bytes);
  if (!ok) {
    wipe(bhttp_bytes);
    return std::unexpected(wrap_error("ohttp: inner request", ok.error()));
  }
  Bytes out;
  ok = sealer->write(bhttp_bytes, out);
  wipe(bhttp_bytes);
  if (ok) ok = sealer->finish(out);
  if (!ok) return std::unexpected(ok.error());
  return Encapsulated{std::move(out), ohttp::kChunkedRequestMediaType, sealer->response_secrets().clone()};
}

// A 400 whose problem type is the ohttp-key one: the gateway wants another key.
bool is_key_problem(int status, const net::Headers& headers, ByteSpan body) {
  if (status != 400) return false;
  auto type = headers.get("Content-Type");
  if (!type || !type->starts_with(ohttp::kProblemJsonMediaType)) return false;
  auto json = parse_json(body);
  if (!json || !json->is_object()) return false;
  auto it = json->find("type");
  return it != json->end() && it->is_string() && it->get<std::string>() == ohttp::kKeyProblemType;
}

std::string problem_title(const net::Headers& headers, ByteSpan body) {
  auto type = headers.get("Content-Type");
  if (type && type->starts_with(ohttp::kProblemJsonMediaType)) {
    auto json = parse_json(body);
    if (json && json->is_object()) {
      auto it = json->find("title");
      if (it != json->end() && it->is_string()) return it->get<std::string>();
    }
  }
  return {};
}

// Up to `limit` bytes of the body (the rest is left unread; the connection is closed with the stream).
Task<Bytes> read_error_body(net::ClientStream& stream, size_t limit) {
  Bytes body;
  while (body.size() < limit) {
    auto piece = co_await stream.read_chunk();
    if (!piece || !*piece) break;
    append(body, **piece);
  }
  if (body.size() > limit) body.resize(limit);
  co_return body;
}

net::Headers to_headers(const bhttp::Fields& fields) {
  net::Headers out;
  for (const auto& f : fields) out.add(f.name, f.value);
  return out;
}

}  // namespace

// ---- the response stream ---------------------------------------------------------------------------------------

class OhttpResponseStream::Impl {
 public:
  Impl(std::unique_ptr<net::ClientStream> outer, wire::Chunking chunking, wire::ResponseContext context,
       const bhttp::DecodeLimits& limits)
      : chunking_(chunking), outer_(std::move(outer)), context_(std::move(context)), limits_(limits),
        decoder_(limits) {
    if (chunking_ == wire::Chunking::kChunked) {
      opener_.emplace(context_.chunked_opener(wire::ChunkOpenLimits{wire::kMinReceiveChunkPlaintext}));
    }
  }

  ~Impl() {
    wipe(plain_);
    wipe(whole_);
  }

  // Reads up to the inner response's final head.
  Task<Status> start() {
    auto event = co_await next_event();
    if (!event) co_return std::unexpected(event.error());
    auto* head = std::get_if<bhttp::ResponseHead>(&*event);
    if (head == nullptr) co_return make_error(ErrorCode::kDecode, "ohttp response: body before the response head");
    status_ = head->status;
    headers_ = to_headers(head->headers);
    co_return Status{};
  }

  Task<Result<std::optional<Bytes>>> read_chunk() {
    if (ended_) co_return std::nullopt;
    for (;;) {
      auto event = co_await next_event();
      if (!event) co_return std::unexpected(event.error());
      if (auto* body = std::get_if<Bytes>(&*event)) co_return std::move(*body);
      if (auto* trailers = std::get_if<bhttp::Fields>(&*event)) {
        trailers_ = to_headers(*trailers);
        continue;
      }
      if (std::holds_alternative<End>(*event)) {
        ended_ = true;
        co_return std::nullopt;
      }
      co_return make_error(ErrorCode::kDecode, "ohttp response: a second response head");
    }
  }

  int status_ = 0;
  net::Headers headers_;
  net::Headers trailers_;
  bool ended_ = false;
  wire::Chunking chunking_;

 private:
  struct End {};
  using Event = std::variant<bhttp::ResponseHead, Bytes, bhttp::Fields, End>;

  // One decoding step: an event to hand out, or nullopt when the step produced none (more input is needed, an
  // informational response was skipped, empty body data).
  Result<std::optional<Event>> decode_step() {
    bhttp::DecodeEvent event;
    bool from_finish = false;
    if (consumed_ < plain_.size()) {
      ByteSpan input(plain_.data() + consumed_, plain_.size() - consumed_);
      const size_t before = input.size();
      auto ev = decoder_.next(input);
      consumed_ += before - input.size();
      if (!ev) return std::unexpected(wrap_error("ohttp response", ev.error()));
      event = std::move(*ev);
    } else {
      auto ev = decoder_.finish();
      if (!ev) return std::unexpected(wrap_error("ohttp response", ev.error()));
      event = std::move(*ev);
      from_finish = true;
    }
    if (std::holds_alternative<bhttp::NeedMoreInput>(event)) {
      if (from_finish) return make_error(ErrorCode::kTruncated, "ohttp response: the message ended early");
      return std::nullopt;
    }
    if (std::holds_alternative<bhttp::InformationalResponse>(event)) return std::nullopt;
    if (auto* head = std::get_if<bhttp::ResponseHead>(&event)) return Event{std::move(*head)};
    if (auto* data = std::get_if<bhttp::BodyData>(&event)) {
      if (data->data.empty()) return std::nullopt;
      return Event{Bytes(data->data.begin(), data->data.end())};
    }
    if (auto* trailers = std::get_if<bhttp::Trailers>(&event)) return Event{std::move(trailers->fields)};
    if (std::holds_alternative<bhttp::EndOfMessage>(event)) return Event{End{}};
    return make_error(ErrorCode::kDecode, "ohttp response: the inner message is a request");
  }

  // The next inner event, reading and opening outer pieces as needed.
  Task<Result<Event>> next_event() {
    for (;;) {
      if (consumed_ < plain_.size() || outer_ended_) {
        auto step = decode_step();
        if (!step) co_return std::unexpected(step.error());
        if (*step) co_return std::move(**step);
        continue;
      }
      compact();
      if (auto ok = co_await read_more(); !ok) co_return std::unexpected(ok.error());
    }
  }

  void compact() {
    if (consumed_ == plain_.size()) {
      wipe(plain_);
      consumed_ = 0;
    }
  }

  Task<Status> read_more() {
    auto piece = co_await outer_->read_chunk();
    if (!piece) co_return std::unexpected(wrap_error("ohttp response", piece.error()));
    if (!*piece) {
      outer_ended_ = true;
      if (opener_) {
        if (auto ok = opener_->finish(plain_); !ok) co_return std::unexpected(wrap_error("ohttp response", ok.error()));
        co_return Status{};
      }
      auto opened = context_.open(whole_);
      wipe(whole_);
      if (!opened) co_return std::unexpected(wrap_error("ohttp response", opened.error()));
      plain_ = std::move(*opened);
      consumed_ = 0;
      co_return Status{};
    }
    if (opener_) {
      if (auto ok = opener_->feed(**piece, plain_); !ok) co_return std::unexpected(wrap_error("ohttp response", ok.error()));
      co_return Status{};
    }
    // Unchunked: bounded by the body limit plus the nonce, tag and BHTTP framing.
    if (whole_.size() + (*piece)->size() > limits_.max_body_bytes + limits_.max_header_section_bytes +
                                               limits_.max_trailer_section_bytes + 1024) {
      co_return make_error(ErrorCode::kLimitExceeded, "ohttp response: over the response limits");
    }
    append(whole_, **piece);
    co_return Status{};
  }

  std::unique_ptr<net::ClientStream> outer_;
  wire::ResponseContext context_;
  bhttp::DecodeLimits limits_;
  bhttp::StreamDecoder decoder_;
  std::optional<wire::ChunkedResponseOpener> opener_;
  Bytes whole_;  // unchunked: the outer body
  Bytes plain_;  // opened BHTTP not yet decoded
  size_t consumed_ = 0;
  bool outer_ended_ = false;
};

OhttpResponseStream::OhttpResponseStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OhttpResponseStream::~OhttpResponseStream() = default;
int OhttpResponseStream::status() const { return impl_->status_; }
const net::Headers& OhttpResponseStream::headers() const { return impl_->headers_; }
bool OhttpResponseStream::chunked() const { return impl_->chunking_ == wire::Chunking::kChunked; }
Task<Result<std::optional<Bytes>>> OhttpResponseStream::read_chunk() { return impl_->read_chunk(); }
const net::Headers& OhttpResponseStream::trailers() const { return impl_->trailers_; }

Task<Result<Bytes>> OhttpResponseStream::read_all() {
  Bytes body;
  for (;;) {
    auto piece = co_await read_chunk();
    if (!piece) {
      wipe(body);
      co_return std::unexpected(piece.error());
    }
    if (!*piece) co_return body;
    append(body, **piece);
    wipe(**piece);
  }
}

// ---- key sources -------------------------------------------------------------------------------------------------

KeySource fixed_key_source(ohttp::KeyConfig config) {
  auto shared = std::make_shared<const ohttp::KeyConfig>(std::move(config));
  return [shared](bool) -> Task<Result<ohttp::KeyConfig>> { co_return *shared; };
}

Task<Result<ohttp::KeyConfig>> fetch_gateway_key_config(net::Client client, std::string keys_url) {
  net::ClientRequest request("GET", keys_url);
  auto response = co_await client.fetch(std::move(request));
  if (!response) co_return std::unexpected(wrap_error("ohttp keys " + keys_url, response.error()));
  if (response->status != 200) {
    co_return make_error(response->status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kNotFound,
                         "ohttp keys " + keys_url + ": status " + std::to_string(response->status));
  }
  auto configs = ohttp::parse_key_configs(response->body, /*skip_unsupported=*/true);
  if (!configs) co_return std::unexpected(wrap_error("ohttp keys " + keys_url, configs.error()));
  for (auto& config : *configs) {
    if (usable(config)) co_return std::move(config);
  }
  co_return make_error(ErrorCode::kUnsupported, "ohttp keys " + keys_url + ": no usable key configuration");
}

KeySource gateway_key_source(net::Client client, std::string keys_url) {
  struct Cache {
    Cache(net::Client c, std::string u) : client(std::move(c)), url(std::move(u)) {}
    net::Client client;
    std::string url;
    std::mutex mutex;
    std::optional<ohttp::KeyConfig> config;
  };
  auto cache = std::make_shared<Cache>(std::move(client), std::move(keys_url));
  return [cache](bool refresh) -> Task<Result<ohttp::KeyConfig>> {
    if (!refresh) {
      std::lock_guard lock(cache->mutex);
      if (cache->config) co_return *cache->config;
    }
    auto fetched = co_await fetch_gateway_key_config(cache->client, cache->url);
    if (!fetched) co_return std::unexpected(fetched.error());
    std::lock_guard lock(cache->mutex);
    cache->config = *fetched;
    co_return std::move(*fetched);
  };
}

// ---- the transport -----------------------------------------------------------------------------------------------

struct OhttpTransport::State {
  net::Client client;
  std::string relay_url;
  KeySource keys;
  OhttpTransportOptions options;
};

namespace {

// Encapsulates and sends `inner`, retrying once under a fresh key after a key error; returns the response stream
// positioned after the inner head.
Task<Result<std::unique_ptr<OhttpResponseStream>>> exchange(std::shared_ptr<const OhttpTransport::State> state,
                                                            net::ClientRequest inner, bool streaming) {
  net::Client client = state->client;  // a copy: the client's calls are not const
  for (int attempt = 0;; ++attempt) {
    auto key = co_await state->keys(attempt > 0);
    if (!key) co_return std::unexpected(wrap_error("ohttp: key configuration", key.error()));
    auto encapsulated = streaming ? encapsulate_chunked(*key, inner) : encapsulate_whole(*key, inner);
    if (!encapsulated) co_return std::unexpected(encapsulated.error());
    net::Headers headers;
    headers.set("Content-Type", encapsulated->content_type);
    if (streaming) headers.set("Incremental", "?1");  // asks intermediaries not to buffer
    net::ClientRequest outer("POST", state->relay_url, std::move(encapsulated->body), std::move(headers));
    auto sent = co_await client.send(std::move(outer));
    if (!sent) co_return std::unexpected(sent.error());
    std::unique_ptr<net::ClientStream> stream = std::move(*sent);

    const int status = stream->status();
    if (status != 200) {
      const Bytes body = co_await read_error_body(*stream, state->options.max_error_body_bytes);
      const bool key_error = is_key_problem(status, stream->headers(), body);
      if (key_error && attempt == 0) continue;
      std::string message = "ohttp: the relay or gateway answered " + std::to_string(status);
      if (key_error) message += " (key configuration refused again after a refresh)";
      if (auto title = problem_title(stream->headers(), body); !title.empty()) message += ": " + title;
      co_return make_error(status >= 500 ? ErrorCode::kUnavailable : ErrorCode::kInvalidArgument, message);
    }
    auto content_type = stream->headers().get("Content-Type");
    auto chunking = content_type ? ohttp::response_chunking(*content_type) : std::nullopt;
    if (!chunking) co_return make_error(ErrorCode::kDecode, "ohttp: the response is not an OHTTP response");
    auto context = encapsulated->secrets.context(*chunking);
    if (!context) co_return std::unexpected(context.error());
    auto impl = std::make_unique<OhttpResponseStream::Impl>(std::move(stream), *chunking, std::move(*context),
                                                            state->options.response_limits);
    if (auto ok = co_await impl->start(); !ok) co_return std::unexpected(ok.error());
    co_return std::make_unique<OhttpResponseStream>(std::move(impl));
  }
}

Task<Result<net::ClientResponse>> send_whole(std::shared_ptr<const OhttpTransport::State> state,
                                             net::ClientRequest inner) {
  auto stream = co_await exchange(state, std::move(inner), /*streaming=*/false);
  if (!stream) co_return std::unexpected(stream.error());
  auto body = co_await (*stream)->read_all();
  if (!body) co_return std::unexpected(body.error());
  net::ClientResponse response;
  response.status = (*stream)->status();
  response.headers = (*stream)->headers();
  response.body = std::move(*body);
  response.trailers = (*stream)->trailers();
  co_return response;
}

}  // namespace

OhttpTransport::OhttpTransport(net::Client client, std::string relay_url, KeySource keys,
                               OhttpTransportOptions options)
    : state_(std::make_shared<const State>(
          State{std::move(client), std::move(relay_url), std::move(keys), std::move(options)})) {}

services::HttpTransport OhttpTransport::transport() const {
  auto state = state_;
  return [state](net::ClientRequest inner) { return send_whole(state, std::move(inner)); };
}

Task<Result<net::ClientResponse>> OhttpTransport::send(net::ClientRequest inner) const {
  return send_whole(state_, std::move(inner));
}

Task<Result<std::unique_ptr<OhttpResponseStream>>> OhttpTransport::send_streaming(net::ClientRequest inner) const {
  return exchange(state_, std::move(inner), /*streaming=*/true);
}

const std::string& OhttpTransport::relay_url() const { return state_->relay_url; }

}  // namespace openpcc::client
