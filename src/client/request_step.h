// Which step of a private request failed. Every error the client SDK (client.h) returns carries its step as the
// first word of the message ("payment: the wallet has no credit ready …"), so a user, a log line or the CLI can
// tell at once where to look, and code can branch on step_of(error). The ErrorCode stays the cause's own.
//
//   request:          the Request itself is unusable (no path, a prompt path without a model, …): fix the call.
//   config:           local setup (config file, trust policy, wallet state file) — only from Client::create.
//   auth:             the AuthBank: unreachable, API key refused, its config's signed bundles (currency key, OHTTP
//                     keys) did not verify under the trust policy, no badge, an attestation token refused.
//   no verified node: the router listed no node for the tags, or none whose evidence passed the trust policy.
//   payment:          the wallet could not hand out a credit (balance, AuthBank/BlindBank trouble, timeout).
//   routing:          relay → gateway → router: a transport or OHTTP failure, or a router answer other than 200
//                     (credit refused, all candidates unavailable, a node's 4xx passed through by the router).
//   node:             the chosen node's answer: an unknown X-Node-ID, a response that does not decrypt or decode,
//                     a stream cut short (the router then refunds the whole credit).
//   engine:           the node answered with an inner error status (4xx/5xx): its request validation (model not
//                     served or not in the badge, malformed JSON) or the inference engine itself failed. The node
//                     refunds the whole credit for these.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"

namespace openpcc::client {

enum class Step { kRequest, kConfig, kAuth, kNoVerifiedNode, kPayment, kRouting, kNode, kEngine };

// "request", "config", "auth", "no verified node", "payment", "routing", "node", "engine".
std::string_view step_name(Step step);

// The error with "<step>: " in front of its message (the code is kept). An error that already names a step is
// returned unchanged, so a step is never named twice.
Error step_error(Step step, Error error);
std::unexpected<Error> make_step_error(Step step, ErrorCode code, std::string message);

// The step an error message starts with, if any.
std::optional<Step> step_of(const Error& error);

}  // namespace openpcc::client
