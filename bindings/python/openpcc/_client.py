"""openpcc.Client and openpcc.Response: private requests over the C API, answers streamed as they arrive."""

import ctypes
import json as _json
import os

from . import _native
from ._errors import raise_for

_lib = _native.lib


def default_config_path():
    """The config `openpcc chat` uses: $OPENPCC_CLIENT_CONFIG, else ./openpcc-dev/client.json."""
    return os.environ.get("OPENPCC_CLIENT_CONFIG") or os.path.join("openpcc-dev", "client.json")


def _as_bytes(value, what):
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError("%s must be bytes, bytearray, memoryview or str, not %s" % (what, type(value).__name__))


class Response:
    """A node's answer: status and headers at once, then the body as it streams.

    Iterating yields the body's pieces (bytes) as the node sealed them (usually one SSE event or NDJSON line, at most
    514 bytes each), never held back to fill a buffer. Use it as a context manager (or call close()) to release it; read to
    the end (or call finish()) so that the payment settles with the router's refund.
    """

    def __init__(self, handle):
        self._handle = ctypes.c_void_p(handle)
        self.status = _lib.openpcc_response_status(self._handle)
        headers = []
        name = ctypes.c_void_p()
        value = ctypes.c_void_p()
        name_length = ctypes.c_size_t()
        value_length = ctypes.c_size_t()
        for i in range(_lib.openpcc_response_header_count(self._handle)):
            _lib.openpcc_response_header(
                self._handle, i, ctypes.byref(name), ctypes.byref(name_length), ctypes.byref(value),
                ctypes.byref(value_length))
            headers.append((
                ctypes.string_at(name, name_length.value).decode("latin-1"),
                ctypes.string_at(value, value_length.value).decode("latin-1"),
            ))
        #: [(name, value), ...] in the node's order (names lowercase, as BHTTP carries them).
        self.headers = headers
        #: The id of the node that answered.
        self.node_id = _lib.openpcc_response_node_id(self._handle).decode()
        #: What the request paid (the credit's value).
        self.credit_value = _lib.openpcc_response_credit_value(self._handle)

    def header(self, name, default=None):
        """The first value of header `name` (case-insensitive)."""
        lower = name.lower()
        for n, v in self.headers:
            if n.lower() == lower:
                return v
        return default

    @property
    def content_type(self):
        return self.header("content-type", "")

    @property
    def ended(self):
        return self._handle is not None and bool(_lib.openpcc_response_ended(self._handle))

    @property
    def refund(self):
        """What the router refunded, once the body has ended (None before)."""
        if self._handle is None:
            return self._refund_at_close
        value = _lib.openpcc_response_refund(self._handle)
        return None if value < 0 else value

    def _live(self):
        if self._handle is None:
            raise ValueError("the response is closed")
        return self._handle

    def next_chunk(self):
        """The next piece of the body (bytes), or None at its end."""
        handle = self._live()
        data = ctypes.c_void_p()
        length = ctypes.c_size_t()
        error = ctypes.c_void_p()
        status = _lib.openpcc_response_next_chunk(handle, ctypes.byref(data), ctypes.byref(length), ctypes.byref(error))
        raise_for(status, error)
        if length.value == 0:
            return None
        return ctypes.string_at(data, length.value)

    def __iter__(self):
        while True:
            chunk = self.next_chunk()
            if chunk is None:
                return
            yield chunk

    iter_chunks = __iter__

    def read(self, size=-1):
        """Up to `size` bytes (waiting only while none is pending; b"" at the end), or with size < 0 the rest."""
        if size is None or size < 0:
            return b"".join(self)
        if size == 0:
            return b""
        handle = self._live()
        buffer = ctypes.create_string_buffer(size)
        length = ctypes.c_size_t()
        error = ctypes.c_void_p()
        status = _lib.openpcc_response_read(handle, buffer, size, ctypes.byref(length), ctypes.byref(error))
        raise_for(status, error)
        return buffer.raw[: length.value]

    def iter_lines(self):
        """The body split into lines (bytes, without the line end), across chunk boundaries."""
        pending = b""
        for chunk in self:
            pending += chunk
            while True:
                cut = pending.find(b"\n")
                if cut < 0:
                    break
                line, pending = pending[:cut], pending[cut + 1:]
                yield line[:-1] if line.endswith(b"\r") else line
        if pending:
            yield pending

    def text(self, encoding="utf-8"):
        return self.read().decode(encoding)

    def json(self):
        return _json.loads(self.read())

    def finish(self):
        """Reads and drops the rest, so that the payment settles with the router's refund."""
        error = ctypes.c_void_p()
        raise_for(_lib.openpcc_response_finish(self._live(), ctypes.byref(error)), error)

    _refund_at_close = None

    def close(self):
        """Releases the response (without reading the rest). Idempotent."""
        if self._handle is not None:
            self._refund_at_close = self.refund
            _lib.openpcc_response_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "<openpcc.Response status=%d content_type=%r>" % (self.status, self.content_type)


class Client:
    """A private inference client (thread-safe: share one between threads).

        with openpcc.Client("openpcc-dev/client.json") as client:
            with client.request("POST", "/v1/chat/completions", body=b'{...}') as response:
                for chunk in response:
                    ...

    config_path: the client.json `openpcc chat` reads (default: $OPENPCC_CLIENT_CONFIG, else
    ./openpcc-dev/client.json). Or config_json (str, bytes or dict) with base_dir for its relative paths.
    """

    def __init__(self, config_path=None, *, config_json=None, base_dir=None):
        handle = ctypes.c_void_p()
        error = ctypes.c_void_p()
        if config_json is not None:
            if isinstance(config_json, dict):
                config_json = _json.dumps(config_json)
            text = _as_bytes(config_json, "config_json")
            base = os.fsencode(base_dir) if base_dir is not None else None
            status = _lib.openpcc_client_create_from_json(
                text, len(text), base, ctypes.byref(handle), ctypes.byref(error))
        else:
            path = os.fsencode(config_path if config_path is not None else default_config_path())
            status = _lib.openpcc_client_create(path, ctypes.byref(handle), ctypes.byref(error))
        raise_for(status, error)
        self._handle = handle
        from ._openai import Chat, Completions  # late: _openai imports this module

        #: client.chat.completions.create(...), OpenAI style.
        self.chat = Chat(self)
        #: client.completions.create(...), OpenAI style.
        self.completions = Completions(self)

    def _live(self):
        if self._handle is None:
            raise ValueError("the client is closed")
        return self._handle

    def request(self, method, path, body=b"", headers=None, *, json=None, node_tags=None, credit_amount=None):
        """Sends one private request; returns a Response once the node's answer has its head.

        path keeps its query string ("/v1/chat/completions?x=1"). headers: a dict or (name, value) pairs (str or
        bytes), sent inside the encryption. json: a value to send as the JSON body instead of body. node_tags: the
        node tags for this request instead of the config's default_tags; credit_amount: the credit to pay with.
        Raises an OpenPCCError subclass naming the failed step; answers with status >= 400 are Responses.
        """
        if json is not None:
            body = _json.dumps(json).encode("utf-8")
        payload = _as_bytes(body, "body")
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        if node_tags is not None:
            pairs.append(("X-Confsec-Node-Tags", ",".join(node_tags)))
        if credit_amount is not None:
            pairs.append(("X-Confsec-Credit-Amount", str(int(credit_amount))))
        fields = (_native.Header * max(1, len(pairs)))()
        keep = []
        for i, (name, value) in enumerate(pairs):
            n = _as_bytes(name, "header name")
            v = _as_bytes(value, "header value")
            keep += [n, v]
            fields[i] = _native.Header(n, len(n), v, len(v))
        method_bytes = _as_bytes(method, "method")
        path_bytes = _as_bytes(path, "path")
        if b"\0" in method_bytes or b"\0" in path_bytes:
            raise ValueError("method and path may not contain NUL")
        response = ctypes.c_void_p()
        error = ctypes.c_void_p()
        status = _lib.openpcc_client_request(
            self._live(), method_bytes, path_bytes, fields, len(pairs), payload,
            len(payload), ctypes.byref(response), ctypes.byref(error))
        raise_for(status, error)
        return Response(response.value)

    def close(self):
        """Returns the wallet's unused credits to the AuthBank, then releases the client. Idempotent."""
        if self._handle is None:
            return
        error = ctypes.c_void_p()
        try:
            raise_for(_lib.openpcc_client_close(self._handle, ctypes.byref(error)), error)
        finally:
            _lib.openpcc_client_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # Without close() the credits stay in the wallet's state file (the next client continues with them).
        if getattr(self, "_handle", None) is not None:
            _lib.openpcc_client_free(self._handle)
            self._handle = None
