// The C API's error objects (include/openpcc/openpcc.h) and the boundary guard every exported function runs in.
//
//   openpcc_status openpcc_something(..., openpcc_error** error) {
//     return capi::guarded(error, "openpcc_something", [&]() -> openpcc_status {
//       if (handle == nullptr) return capi::fail(error, OPENPCC_ERR_INVALID_ARGUMENT, "... is NULL");
//       auto r = ...;                                   // Result<T>
//       if (!r) return capi::fail(error, r.error());   // status from the error's step (request_step.h)
//       return OPENPCC_OK;
//     });
//   }
//
// guarded() stops every exception at the boundary (bad_alloc → OPENPCC_ERR_OUT_OF_MEMORY, anything else →
// OPENPCC_ERR_INTERNAL naming the function), so no C++ exception reaches a C caller.
#pragma once

#include <exception>
#include <new>
#include <string>
#include <string_view>

#include "common/error.h"
#include "openpcc/openpcc.h"

struct openpcc_error {
  openpcc_status status = OPENPCC_ERR_INTERNAL;
  std::string message;
};

namespace openpcc::capi {

// The status for an error of the client SDK: its step ("routing: …" → OPENPCC_ERR_ROUTING), else its code.
openpcc_status status_of(const Error& error);

// Stores a new error in *error (if error is not NULL) and returns `status`. Never throws: when even the error
// object cannot be allocated, *error gets a static out-of-memory error (openpcc_error_free ignores it).
openpcc_status fail(openpcc_error** error, openpcc_status status, std::string_view message) noexcept;
openpcc_status fail(openpcc_error** error, const Error& cause) noexcept;

template <class F>
openpcc_status guarded(openpcc_error** error, const char* function, F&& body) noexcept {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(error, OPENPCC_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    try {
      return fail(error, OPENPCC_ERR_INTERNAL, std::string(function) + ": unexpected exception: " + e.what());
    } catch (...) {
      return fail(error, OPENPCC_ERR_INTERNAL, "unexpected exception");
    }
  } catch (...) {
    return fail(error, OPENPCC_ERR_INTERNAL, "unexpected exception");
  }
}

}  // namespace openpcc::capi
