"""Errors: one class per failed step (the C API's openpcc_status codes), all OpenPCCError."""

import ctypes

from . import _native

_lib = _native.lib


class OpenPCCError(Exception):
    """A failed call. `status` is the C API's code, `status_name` its name ("OPENPCC_ERR_ROUTING"), and the message
    starts with the step that failed ("routing: ...")."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    @property
    def status_name(self):
        return _lib.openpcc_status_name(self.status if self.status is not None else -1).decode()


class InvalidArgumentError(OpenPCCError, ValueError):
    status = 1


class ConfigError(OpenPCCError):
    status = 2


class AuthError(OpenPCCError):
    status = 3


class NoNodeError(OpenPCCError):
    status = 4


class PaymentError(OpenPCCError):
    status = 5


class RoutingError(OpenPCCError):
    status = 6


class NodeError(OpenPCCError):
    status = 7


class EngineError(OpenPCCError):
    status = 8


class StateError(OpenPCCError):
    status = 9


class InternalError(OpenPCCError):
    status = 11


class APIStatusError(OpenPCCError):
    """An answer with status >= 400 from the node or its engine, raised by the OpenAI-style helpers (client.request
    returns such answers as Responses). `status_code` is the HTTP status, `body` the answer (parsed JSON if it was
    JSON, else bytes)."""

    def __init__(self, message, status_code, body):
        super().__init__(message, None)
        self.status_code = status_code
        self.body = body


_BY_STATUS = {cls.status: cls for cls in (InvalidArgumentError, ConfigError, AuthError, NoNodeError, PaymentError,
                                          RoutingError, NodeError, EngineError, StateError, InternalError)}


def raise_for(status, error):
    """Raises the error a C call reported (status != OPENPCC_OK), freeing the error object; frees it on success too."""
    if status == 0:
        if error.value:
            _lib.openpcc_error_free(error)
        return
    message = "unknown error"
    if error.value:
        length = _lib.openpcc_error_message_length(error)
        message = ctypes.string_at(_lib.openpcc_error_message(error), length).decode("utf-8", "replace")
        _lib.openpcc_error_free(error)
    if status == 10:
        raise MemoryError(message)
    cls = _BY_STATUS.get(status, OpenPCCError)
    raise cls(message, status)
