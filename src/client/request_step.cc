#include "client/request_step.h"

#include <array>
#include <utility>

namespace openpcc::client {
namespace {

constexpr std::array kSteps{Step::kRequest, Step::kConfig,  Step::kAuth, Step::kNoVerifiedNode,
                            Step::kPayment, Step::kRouting, Step::kNode, Step::kEngine};

bool starts_with_step(std::string_view message, Step step) {
  const std::string_view name = step_name(step);
  return message.size() > name.size() + 1 && message.starts_with(name) && message[name.size()] == ':' &&
         message[name.size() + 1] == ' ';
}

}  // namespace

std::string_view step_name(Step step) {
  switch (step) {
    case Step::kRequest: return "request";
    case Step::kConfig: return "config";
    case Step::kAuth: return "auth";
    case Step::kNoVerifiedNode: return "no verified node";
    case Step::kPayment: return "payment";
    case Step::kRouting: return "routing";
    case Step::kNode: return "node";
    case Step::kEngine: return "engine";
  }
  return "unknown";
}

Error step_error(Step step, Error error) {
  if (step_of(error)) return error;
  error.message = std::string(step_name(step)) + ": " + error.message;
  return error;
}

std::unexpected<Error> make_step_error(Step step, ErrorCode code, std::string message) {
  return std::unexpected<Error>(step_error(step, Error{code, std::move(message)}));
}

std::optional<Step> step_of(const Error& error) {
  for (Step step : kSteps) {
    if (starts_with_step(error.message, step)) return step;
  }
  return std::nullopt;
}

}  // namespace openpcc::client
