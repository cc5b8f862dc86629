"""A small OpenAI-style layer: client.chat.completions.create(...) and client.completions.create(...).

The answers are the engine's own OpenAI JSON, wrapped so that fields read as attributes
(completion.choices[0].message.content, chunk.choices[0].delta.content, completion.usage.total_tokens); the
underlying dict is .to_dict(). With stream=True, create() returns a Stream: iterate it for chunks, use it as a
context manager (or close()) to release the answer early.

The node always asks an OpenAI engine for the usage record when streaming (it needs it to compute the refund); the
final usage-only chunk (choices == []) is passed on only when the caller asked for it with
stream_options={"include_usage": True}, as OpenAI does.
"""

import json as _json

from ._errors import APIStatusError


class Obj:
    """A JSON object with attribute access (recursively); missing attributes are None, like optional fields."""

    __slots__ = ("_data",)

    def __init__(self, data):
        object.__setattr__(self, "_data", data)

    @staticmethod
    def wrap(value):
        if isinstance(value, dict):
            return Obj(value)
        if isinstance(value, list):
            return [Obj.wrap(v) for v in value]
        return value

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return Obj.wrap(self._data.get(name))

    def __getitem__(self, key):
        return Obj.wrap(self._data[key])

    def __contains__(self, key):
        return key in self._data

    def get(self, key, default=None):
        return Obj.wrap(self._data.get(key, default))

    def to_dict(self):
        return self._data

    model_dump = to_dict

    def to_json(self):
        return _json.dumps(self._data)

    def __eq__(self, other):
        return isinstance(other, Obj) and other._data == self._data

    def __repr__(self):
        return "Obj(%s)" % _json.dumps(self._data)


def _raise_for_status(response):
    if response.status < 400:
        return
    raw = response.read()
    response.close()
    try:
        body = _json.loads(raw)
    except ValueError:
        body = raw
    message = raw.decode("utf-8", "replace")
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            message = err["message"]
        elif isinstance(body.get("message"), str):
            message = body["message"]
        elif isinstance(err, str):
            message = err
    raise APIStatusError("engine: %d: %s" % (response.status, message), response.status, body)


class Stream:
    """Chunks of a streamed answer (Server-Sent Events), each an Obj, as they arrive."""

    def __init__(self, response, include_usage):
        self.response = response
        self._include_usage = include_usage

    def _events(self):
        data_lines = []
        for line in self.response.iter_lines():
            if not line:
                if data_lines:
                    yield b"\n".join(data_lines)
                    data_lines = []
                continue
            if line.startswith(b"data:"):
                data_lines.append(line[5:].lstrip(b" "))
            # event:, id:, retry: and comments carry nothing for these APIs
        if data_lines:
            yield b"\n".join(data_lines)

    def __iter__(self):
        try:
            for data in self._events():
                if data.strip() == b"[DONE]":
                    break
                event = _json.loads(data)
                if (not self._include_usage and isinstance(event, dict) and event.get("choices") == []
                        and event.get("usage") is not None):
                    continue  # the usage record the node asked for, not the caller
                yield Obj.wrap(event)
            self.response.finish()
        finally:
            self.close()

    def close(self):
        self.response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _create(client, path, body, stream, extra_headers, node_tags, credit_amount):
    response = client.request("POST", path, json=body, headers=extra_headers, node_tags=node_tags,
                              credit_amount=credit_amount)
    _raise_for_status(response)
    if stream:
        options = body.get("stream_options") or {}
        return Stream(response, bool(options.get("include_usage")))
    with response:
        return Obj.wrap(response.json())


def _body(fixed, kwargs):
    body = {k: v for k, v in fixed.items() if v is not None}
    body.update({k: v for k, v in kwargs.items() if v is not None})
    return body


class ChatCompletions:
    def __init__(self, client):
        self._client = client

    def create(self, *, model, messages, stream=False, max_tokens=None, extra_headers=None, node_tags=None,
               credit_amount=None, **kwargs):
        """POST /v1/chat/completions. Other OpenAI parameters (temperature, stream_options, ...) go in kwargs; the
        node accepts the fields it knows and refuses others (APIStatusError 400)."""
        body = _body({"model": model, "messages": messages, "max_tokens": max_tokens}, kwargs)
        if stream:
            body["stream"] = True
        return _create(self._client, "/v1/chat/completions", body, stream, extra_headers, node_tags, credit_amount)


class Chat:
    def __init__(self, client):
        self.completions = ChatCompletions(client)


class Completions:
    def __init__(self, client):
        self._client = client

    def create(self, *, model, prompt, stream=False, max_tokens=None, extra_headers=None, node_tags=None,
               credit_amount=None, **kwargs):
        """POST /v1/completions (the legacy text completions API)."""
        body = _body({"model": model, "prompt": prompt, "max_tokens": max_tokens}, kwargs)
        if stream:
            body["stream"] = True
        return _create(self._client, "/v1/completions", body, stream, extra_headers, node_tags, credit_amount)
