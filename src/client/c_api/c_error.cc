#include "client/c_api/c_error.h"

#include <memory>

#include "client/request_step.h"

namespace openpcc::capi {
namespace {

// Handed out when not even an error object can be allocated; openpcc_error_free recognises it.
openpcc_error* out_of_memory_error() {
  static openpcc_error oom{OPENPCC_ERR_OUT_OF_MEMORY, "out of memory"};
  return &oom;
}

}  // namespace

openpcc_status status_of(const Error& error) {
  if (auto step = client::step_of(error)) {
    switch (*step) {
      case client::Step::kRequest: return OPENPCC_ERR_INVALID_ARGUMENT;
      case client::Step::kConfig: return OPENPCC_ERR_CONFIG;
      case client::Step::kAuth: return OPENPCC_ERR_AUTH;
      case client::Step::kNoVerifiedNode: return OPENPCC_ERR_NO_NODE;
      case client::Step::kPayment: return OPENPCC_ERR_PAYMENT;
      case client::Step::kRouting: return OPENPCC_ERR_ROUTING;
      case client::Step::kNode: return OPENPCC_ERR_NODE;
      case client::Step::kEngine: return OPENPCC_ERR_ENGINE;
    }
  }
  switch (error.code) {
    case ErrorCode::kInvalidArgument: return OPENPCC_ERR_INVALID_ARGUMENT;
    case ErrorCode::kIo:
    case ErrorCode::kTimeout:
    case ErrorCode::kUnavailable: return OPENPCC_ERR_ROUTING;
    default: return OPENPCC_ERR_INTERNAL;
  }
}

openpcc_status fail(openpcc_error** error, openpcc_status status, std::string_view message) noexcept {
  if (error == nullptr) return status;
  try {
    auto e = std::make_unique<openpcc_error>();
    e->status = status;
    e->message.assign(message);
    *error = e.release();
  } catch (...) {
    *error = out_of_memory_error();
  }
  return status;
}

openpcc_status fail(openpcc_error** error, const Error& cause) noexcept {
  return fail(error, status_of(cause), cause.message);
}

}  // namespace openpcc::capi

extern "C" {

openpcc_status openpcc_error_status(const openpcc_error* error) {
  return error == nullptr ? OPENPCC_ERR_INVALID_ARGUMENT : error->status;
}

const char* openpcc_error_message(const openpcc_error* error) {
  return error == nullptr ? "no error object (NULL)" : error->message.c_str();
}

size_t openpcc_error_message_length(const openpcc_error* error) {
  return error == nullptr ? 0 : error->message.size();
}

void openpcc_error_free(openpcc_error* error) {
  if (error == nullptr || error == openpcc::capi::out_of_memory_error()) return;
  delete error;
}

const char* openpcc_status_name(openpcc_status status) {
  switch (status) {
    case OPENPCC_OK: return "OPENPCC_OK";
    case OPENPCC_ERR_INVALID_ARGUMENT: return "OPENPCC_ERR_INVALID_ARGUMENT";
    case OPENPCC_ERR_CONFIG: return "OPENPCC_ERR_CONFIG";
    case OPENPCC_ERR_AUTH: return "OPENPCC_ERR_AUTH";
    case OPENPCC_ERR_NO_NODE: return "OPENPCC_ERR_NO_NODE";
    case OPENPCC_ERR_PAYMENT: return "OPENPCC_ERR_PAYMENT";
    case OPENPCC_ERR_ROUTING: return "OPENPCC_ERR_ROUTING";
    case OPENPCC_ERR_NODE: return "OPENPCC_ERR_NODE";
    case OPENPCC_ERR_ENGINE: return "OPENPCC_ERR_ENGINE";
    case OPENPCC_ERR_STATE: return "OPENPCC_ERR_STATE";
    case OPENPCC_ERR_OUT_OF_MEMORY: return "OPENPCC_ERR_OUT_OF_MEMORY";
    case OPENPCC_ERR_INTERNAL: return "OPENPCC_ERR_INTERNAL";
  }
  return "OPENPCC_UNKNOWN";
}

}  // extern "C"
