"""OpenPCC for Python: private AI inference through attested compute nodes.

A ctypes binding of libopenpcc (the C API, include/openpcc/openpcc.h); standard library only.

    import openpcc

    with openpcc.Client("openpcc-dev/client.json") as client:
        stream = client.chat.completions.create(
            model="llama3", messages=[{"role": "user", "content": "Hi"}], stream=True)
        for chunk in stream:
            if chunk.choices:
                print(chunk.choices[0].delta.content or "", end="", flush=True)

        # Any HTTP request the node serves, streamed as it arrives (bytes, query strings kept):
        with client.request("POST", "/v1/chat/completions", json={...}) as response:
            print(response.status, response.content_type)
            for piece in response:
                ...

The library is found through $OPENPCC_LIBRARY, next to this package, in the install prefix, or by the dynamic
loader (see _native.py).
"""

from . import _native
from ._client import Client, Response, default_config_path
from ._errors import (APIStatusError, AuthError, ConfigError, EngineError, InternalError, InvalidArgumentError,
                      NodeError, NoNodeError, OpenPCCError, PaymentError, RoutingError, StateError)
from ._native import LibraryNotFound
from ._openai import Obj, Stream

__version__ = "0.1.0"


def library_version():
    """The loaded libopenpcc's version ("0.1.0")."""
    return _native.lib.openpcc_version().decode()


def library_path():
    """The path the library was loaded from."""
    return _native.lib._name


__all__ = [
    "APIStatusError", "AuthError", "Client", "ConfigError", "EngineError", "InternalError", "InvalidArgumentError",
    "LibraryNotFound", "NodeError", "NoNodeError", "Obj", "OpenPCCError", "PaymentError", "Response", "RoutingError",
    "StateError", "Stream", "default_config_path", "library_path", "library_version",
]
