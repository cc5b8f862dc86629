"""The binding against the local stack (run by capi_stack_driver: tests/capi/stack_driver.cc says what its stand-in
engine answers). Skipped without OPENPCC_CLIENT_CONFIG, unless OPENPCC_TEST_REQUIRE_STACK=1 (as ctest sets it), which
makes a missing stack a failure."""

import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

import openpcc  # noqa: E402

CONFIG = os.environ.get("OPENPCC_CLIENT_CONFIG")
MODEL = os.environ.get("OPENPCC_TEST_MODEL", "capi-test-model")
GATE_FD = os.environ.get("OPENPCC_TEST_GATE_FD")
REQUIRED = os.environ.get("OPENPCC_TEST_REQUIRE_STACK") == "1"


def chat_body(content, stream=False):
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], "stream": stream}


class StackTestCase(unittest.TestCase):
    client = None

    @classmethod
    def setUpClass(cls):
        if not CONFIG:
            if REQUIRED:
                raise RuntimeError("OPENPCC_CLIENT_CONFIG is not set: run under capi_stack_driver")
            raise unittest.SkipTest("no local stack (OPENPCC_CLIENT_CONFIG unset)")
        cls.client = openpcc.Client(CONFIG)

    @classmethod
    def tearDownClass(cls):
        if cls.client is not None:
            cls.client.close()
            cls.client = None


class RequestTest(StackTestCase):
    def test_streamed_answer(self):
        with self.client.request("POST", "/v1/chat/completions", json=chat_body("one two three", stream=True),
                                 headers={"Accept": "text/event-stream"}) as response:
            self.assertEqual(response.status, 200)
            self.assertEqual(response.content_type, "text/event-stream")
            self.assertEqual(response.header("CONTENT-TYPE"), "text/event-stream")
            self.assertTrue(response.node_id)
            self.assertGreater(response.credit_value, 0)
            self.assertIsNone(response.refund)
            chunks = list(response)
            self.assertTrue(response.ended)
            self.assertIsNotNone(response.refund)
        # echo:, 3 words, the final chunk, the usage chunk, [DONE]: 7 events, in as many pieces as the node's reads
        # of the engine made (test_first_chunk_before_the_engine_finishes is the timing-free proof of streaming).
        self.assertGreaterEqual(len(chunks), 2)
        for chunk in chunks:
            self.assertIsInstance(chunk, bytes)
        # The node pads its answer with SSE comment events (lines starting with ':', which SSE parsers skip) so that
        # piece sizes do not show token lengths: drop them before counting.
        events = [e for e in b"".join(chunks).split(b"\n\n") if e and not e.startswith(b":")]
        self.assertEqual(events[-1], b"data: [DONE]")
        self.assertEqual(len(events), 7)

    def test_first_chunk_before_the_engine_finishes(self):
        self.assertIsNotNone(GATE_FD, "OPENPCC_TEST_GATE_FD unset")
        response = self.client.request("POST", "/v1/chat/completions", json=chat_body("gate from python", True))
        try:
            first = response.next_chunk()
            self.assertIn(b"echo:", first)
            self.assertNotIn(b"[DONE]", first)
            self.assertFalse(response.ended)
        finally:
            os.write(int(GATE_FD), b"g")  # the engine has been waiting for this: now it may finish
        rest = b"".join(response)
        response.close()
        self.assertIn(b"data: [DONE]", rest)

    def test_binary_round_trip(self):
        payload = bytes(range(256)) * 4
        # The node forwards validated JSON only, so the bytes go out as \u00XX escapes and come back raw.
        content = "binary:" + payload.decode("latin-1")
        with self.client.request("POST", "/v1/chat/completions", json=chat_body(content)) as response:
            self.assertEqual(response.status, 200)
            self.assertEqual(response.content_type, "application/octet-stream")
            pieces = []
            while True:
                piece = response.read(5)  # partial reads of the engine's 97-byte pieces
                if not piece:
                    break
                self.assertLessEqual(len(piece), 5)
                pieces.append(piece)
        self.assertEqual(b"".join(pieces), payload)
        self.assertGreaterEqual(len(pieces), len(payload) // 5)

    def test_query_string_reaches_the_node(self):
        with self.client.request("POST", "/v1/chat/completions?trace=1", json=chat_body("hi")) as response:
            self.assertEqual(response.status, 400)
            self.assertEqual(response.json()["code"], "ErrQueryNotAllowed")

    def test_errors_name_the_step(self):
        with self.assertRaises(openpcc.NoNodeError) as caught:
            self.client.request("POST", "/v1/chat/completions", json={"model": "no-such-model", "messages": []})
        self.assertTrue(str(caught.exception).startswith("no verified node"), str(caught.exception))
        with self.assertRaises(openpcc.InvalidArgumentError):
            self.client.request("POST", "/v1/chat/completions", json=chat_body("x"), headers={"X-A": "a\r\nB: c"})
        with self.assertRaises(openpcc.InvalidArgumentError):
            self.client.request("POST", "no-slash", json=chat_body("x"))
        with self.assertRaises(ValueError):
            self.client.request("POST", "/v1/chat\0/completions", json=chat_body("x"))
        with self.assertRaises(openpcc.InvalidArgumentError):
            self.client.request("POST", "/v1/chat/completions", json={"messages": []})  # no model

    def test_node_tags_and_credit_amount(self):
        with self.assertRaises(openpcc.NoNodeError) as caught:
            self.client.request("POST", "/v1/chat/completions", json=chat_body("x"), node_tags=["llm", "no-such-tag"])
        self.assertIn("no-such-tag", str(caught.exception))
        with self.client.request("POST", "/v1/chat/completions", json=chat_body("x"), node_tags=["llm"]) as r:
            self.assertEqual(r.status, 200)
        with self.assertRaises(openpcc.PaymentError):  # more than one prefetched credit holds
            self.client.request("POST", "/v1/chat/completions", json=chat_body("x"), credit_amount=10**12)

    def test_threads_share_a_client(self):
        results = {}

        def run(i):
            with self.client.request("POST", "/v1/chat/completions", json=chat_body("thread %d" % i)) as r:
                results[i] = r.json()["choices"][0]["message"]["content"]

        threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, {i: "echo: thread %d" % i for i in range(4)})


class OpenAIStyleTest(StackTestCase):
    def test_chat_stream(self):
        stream = self.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hello private world"}], stream=True, max_tokens=16)
        text = ""
        chunks = 0
        for chunk in stream:
            chunks += 1
            self.assertEqual(chunk.object, "chat.completion.chunk")
            self.assertTrue(chunk.choices, "a usage-only chunk the caller did not ask for")
            text += chunk.choices[0].delta.content or ""
        self.assertEqual(text, "echo: hello private world")
        self.assertGreaterEqual(chunks, 5)

    def test_chat_stream_with_usage(self):
        stream = self.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "a b"}], stream=True,
            stream_options={"include_usage": True})
        chunks = list(stream)
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.prompt_tokens, 2)
        self.assertEqual(chunks[-1].usage.completion_tokens, 3)

    def test_chat_not_streamed(self):
        completion = self.client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "just once"}], max_tokens=8)
        self.assertEqual(completion.object, "chat.completion")
        self.assertEqual(completion.choices[0].message.role, "assistant")
        self.assertEqual(completion.choices[0].message.content, "echo: just once")
        self.assertEqual(completion.usage.total_tokens, 2 + 3)

    def test_completions(self):
        completion = self.client.completions.create(model=MODEL, prompt="legacy api", max_tokens=8)
        self.assertEqual(completion.choices[0].text, "echo: legacy api")
        text = "".join(c.choices[0].text for c in self.client.completions.create(
            model=MODEL, prompt="streamed legacy", stream=True) if c.choices)
        self.assertEqual(text, "echo: streamed legacy")

    def test_api_error(self):
        # A field the node's validator does not know: the node answers 400 inside the encryption.
        with self.assertRaises(openpcc.APIStatusError) as caught:
            self.client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}],
                                                not_an_openai_field=1)
        self.assertEqual(caught.exception.status_code, 400)
        self.assertIn("not_an_openai_field", str(caught.exception))


class ExamplesTest(StackTestCase):
    """The examples docs/CLIENTS.md shows, run as a user would (one client at a time per wallet state file)."""

    @classmethod
    def setUpClass(cls):
        if not CONFIG:
            super().setUpClass()  # skips or fails as above

    def run_example(self, name, *args):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(HERE, "..") + os.pathsep + env.get("PYTHONPATH", "")
        done = subprocess.run([sys.executable, os.path.join(HERE, "..", "examples", name)] + list(args),
                              env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_chat_stream_example(self):
        out = self.run_example("chat_stream.py", MODEL, "Why is the sky blue?")
        self.assertEqual(out, "echo: Why is the sky blue?\n")

    def test_raw_request_example(self):
        out = self.run_example("raw_request.py", MODEL)
        self.assertTrue(out.startswith("status 200 text/event-stream node "), out)
        self.assertIn("data: [DONE]", out)
        self.assertIn("paid ", out)


class ContextManagerTest(StackTestCase):
    @classmethod
    def setUpClass(cls):
        if not CONFIG:
            super().setUpClass()

    def test_with_closes(self):
        with openpcc.Client(CONFIG) as client:
            with client.request("POST", "/v1/chat/completions", json=chat_body("bye")) as response:
                self.assertEqual(response.status, 200)
                response.finish()
                self.assertTrue(response.ended)
        with self.assertRaises(ValueError):
            client.request("POST", "/v1/chat/completions", json=chat_body("after close"))
        client.close()  # idempotent

    def test_unreachable_authbank(self):
        with open(CONFIG) as f:
            config = json.load(f)
        config["authbank_url"] = "https://127.0.0.1:9"  # the discard port: nothing listens
        with tempfile.TemporaryDirectory() as d:
            config["wallet"]["state_file"] = os.path.join(d, "wallet.state")
            with self.assertRaises(openpcc.AuthError) as caught:
                openpcc.Client(config_json=config, base_dir=os.path.dirname(CONFIG))
        self.assertEqual(caught.exception.status_name, "OPENPCC_ERR_AUTH")
        self.assertTrue(str(caught.exception).startswith("auth: "), str(caught.exception))

    def test_config_json(self):
        with open(CONFIG) as f:
            config = json.load(f)
        with openpcc.Client(config_json=config, base_dir=os.path.dirname(CONFIG)) as client:
            completion = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "j"}])
            self.assertEqual(completion.choices[0].message.content, "echo: j")


if __name__ == "__main__":
    unittest.main()
