// What the proxy sends its prompts to: the private path (client::Client), behind a small interface so that the
// proxy's HTTP side can be tested against a scripted upstream too.
//
//   auto upstream = private_upstream(*client);                 // client must outlive it
//   PrivateRequest r("/v1/chat/completions?x=1", "llama3", body);
//   auto answer = co_await upstream->send(std::move(r));         // "<step>: …" errors (client/request_step.h)
//   (*answer)->status(), (*answer)->headers(), (*answer)->read_chunk() …
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/client.h"
#include "common/bytes.h"
#include "common/error.h"
#include "net/headers.h"
#include "net/runtime.h"

namespace openpcc::client::openai_proxy {

// One prompt for a node. Not an aggregate (GCC 12 and co_await: net/runtime.h).
struct PrivateRequest {
  PrivateRequest() = default;
  PrivateRequest(std::string target_, std::string model_, Bytes body_)
      : target(std::move(target_)), model(std::move(model_)), body(std::move(body_)) {}

  std::string target;  // origin form as the caller sent it, query string included: "/v1/completions?x=1"
  std::string model;   // routes to nodes tagged model=<model>
  Bytes body;          // the caller's bytes, unchanged
};

// The node's answer, streaming. Every status is handed out (≥ 400 too: the proxy shapes those errors itself).
class UpstreamResponse {
 public:
  virtual ~UpstreamResponse();
  virtual int status() const = 0;
  virtual const net::Headers& headers() const = 0;
  // The next piece of the body as it was decrypted, or std::nullopt at its end.
  virtual net::Task<Result<std::optional<Bytes>>> read_chunk() = 0;
  // The node that answered (for the X-OpenPCC-Node header); empty if unknown.
  virtual std::string node_id() const { return {}; }
};

class Upstream {
 public:
  virtual ~Upstream();
  virtual net::Task<Result<std::unique_ptr<UpstreamResponse>>> send(PrivateRequest request) = 0;
  // The models nodes serve now, sorted, without repeats. An empty list is an answer (no node), not an error.
  virtual net::Task<Result<std::vector<std::string>>> models() = 0;
};

// The private path through `client` (which must outlive the result). A request goes to nodes with the client's
// default tags plus model=<model>; its only inner header is Content-Type: application/json (the caller's other
// headers — user agent, SDK and OS names, the proxy's token — stay here). models(): the model= tags of the verified
// nodes that carry the default tags (the node finder's lookup, cached as it caches), unless `fixed_models` is not
// empty: then that list.
std::shared_ptr<Upstream> private_upstream(Client& client, std::vector<std::string> fixed_models = {});

}  // namespace openpcc::client::openai_proxy
