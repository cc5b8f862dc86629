"""The binding without a stack: loading, version, errors for unusable configs and arguments."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import openpcc  # noqa: E402
from openpcc import _native  # noqa: E402


class OfflineTest(unittest.TestCase):
    def test_version(self):
        self.assertEqual(openpcc.library_version(), openpcc.__version__)
        self.assertEqual(_native.lib.openpcc_version_number() >> 16, _native.ABI_MAJOR)
        if os.environ.get("OPENPCC_LIBRARY"):
            self.assertEqual(openpcc.library_path(), os.environ["OPENPCC_LIBRARY"])

    def test_missing_config_file(self):
        with self.assertRaises(openpcc.ConfigError) as caught:
            openpcc.Client("/nonexistent/openpcc/client.json")
        e = caught.exception
        self.assertEqual(e.status_name, "OPENPCC_ERR_CONFIG")
        self.assertTrue(str(e).startswith("config: "), str(e))
        self.assertIn("/nonexistent/openpcc/client.json", str(e))

    def test_config_json_errors(self):
        with self.assertRaises(openpcc.ConfigError):
            openpcc.Client(config_json='{"authbank_url": ')
        with self.assertRaises(openpcc.ConfigError) as caught:
            openpcc.Client(config_json={"authbank_url": "https://127.0.0.1:1", "no_such_key": 1}, base_dir="/tmp")
        self.assertIn("no_such_key", str(caught.exception))
        with self.assertRaises(TypeError):
            openpcc.Client(config_json=42)

    def test_trust_policy_without_transparency(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "trust.json"), "w") as f:
                f.write("{}")
            config = {
                "authbank_url": "https://127.0.0.1:9",
                "api_key": "opk_test",
                "trust_policy": "trust.json",
                "wallet": {"state_file": "wallet.state"},
            }
            with self.assertRaises(openpcc.ConfigError) as caught:
                openpcc.Client(config_json=config, base_dir=d)
            self.assertIn(os.path.join(d, "trust.json"), str(caught.exception))
            self.assertIn("transparency", str(caught.exception))

    def test_default_config_path(self):
        old = os.environ.get("OPENPCC_CLIENT_CONFIG")
        try:
            os.environ["OPENPCC_CLIENT_CONFIG"] = "/x/client.json"
            self.assertEqual(openpcc.default_config_path(), "/x/client.json")
            del os.environ["OPENPCC_CLIENT_CONFIG"]
            self.assertEqual(openpcc.default_config_path(), os.path.join("openpcc-dev", "client.json"))
        finally:
            if old is not None:
                os.environ["OPENPCC_CLIENT_CONFIG"] = old

    def test_error_classes(self):
        self.assertTrue(issubclass(openpcc.InvalidArgumentError, ValueError))
        for cls in (openpcc.ConfigError, openpcc.AuthError, openpcc.NoNodeError, openpcc.PaymentError,
                    openpcc.RoutingError, openpcc.NodeError, openpcc.StateError, openpcc.APIStatusError):
            self.assertTrue(issubclass(cls, openpcc.OpenPCCError))

    def test_obj(self):
        o = openpcc.Obj.wrap({"choices": [{"delta": {"content": "hi"}}], "usage": None})
        self.assertEqual(o.choices[0].delta.content, "hi")
        self.assertIsNone(o.usage)
        self.assertIsNone(o.missing)
        self.assertEqual(o.to_dict()["choices"][0]["delta"]["content"], "hi")


if __name__ == "__main__":
    unittest.main()
