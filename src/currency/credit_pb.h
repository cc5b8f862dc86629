// Conversions between the currency types and their protobuf messages (proto/openpcc/currency.proto), for services
// that embed values, nonces and credits in their own request and response messages.
//
// to_proto never fails and always sets every field (explicit presence). from_proto applies the same strict rules as
// Credit::parse and answers kDecode, naming the missing or malformed field.
#pragma once

#include "common/error.h"
#include "currency/credit.h"
#include "currency/nonce.h"
#include "currency/value.h"
#include "openpcc/currency.pb.h"

namespace openpcc::currency {

pb::Currency to_proto(const Value& value);
pb::Nonce to_proto(const Nonce& nonce);
pb::Credit to_proto(const Credit& credit);

Result<Value> from_proto(const pb::Currency& message);
Result<Nonce> from_proto(const pb::Nonce& message);
Result<Credit> from_proto(const pb::Credit& message);

}  // namespace openpcc::currency
