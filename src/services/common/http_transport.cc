#include "services/common/http_transport.h"

#include <memory>
#include <utility>

namespace openpcc::services {

HttpTransport direct_transport(net::Client client) {
  auto shared = std::make_shared<net::Client>(std::move(client));
  return [shared](net::ClientRequest request) -> net::Task<Result<net::ClientResponse>> {
    co_return co_await shared->fetch(std::move(request));
  };
}

}  // namespace openpcc::services
