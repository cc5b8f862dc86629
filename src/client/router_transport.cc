#include "client/router_transport.h"

#include <utility>

namespace openpcc::client {
namespace {

std::string rewrite(const std::string& url, const std::string& from, const std::string& to) {
  if (!url.starts_with(from)) return url;
  return to + url.substr(from.size());
}

class DirectStream final : public RouterStream {
 public:
  explicit DirectStream(std::unique_ptr<net::ClientStream> stream) : stream_(std::move(stream)) {}
  int status() const override { return stream_->status(); }
  const net::Headers& headers() const override { return stream_->headers(); }
  net::Task<Result<std::optional<Bytes>>> read_chunk() override { return stream_->read_chunk(); }
  const net::Headers& trailers() const override { return stream_->trailers(); }

 private:
  std::unique_ptr<net::ClientStream> stream_;
};

}  // namespace

services::HttpTransport rewriting_transport(services::HttpTransport inner, std::string from, std::string to) {
  return [inner = std::move(inner), from = std::move(from),
          to = std::move(to)](net::ClientRequest request) -> net::Task<Result<net::ClientResponse>> {
    request.url = rewrite(request.url, from, to);
    co_return co_await inner(std::move(request));
  };
}

StreamingTransport direct_streaming_transport(net::Client client, std::string from, std::string to) {
  return [client = std::move(client), from = std::move(from),
          to = std::move(to)](net::ClientRequest request) -> net::Task<Result<std::unique_ptr<RouterStream>>> {
    request.url = rewrite(request.url, from, to);
    net::Client sender = client;  // cheap: copies share the connection settings
    auto stream = co_await sender.send(std::move(request));
    if (!stream) co_return std::unexpected(std::move(stream.error()));
    co_return std::make_unique<DirectStream>(std::move(*stream));
  };
}

}  // namespace openpcc::client
