"""One private HTTP request with the low-level API: python3 raw_request.py [model]

Any method, path (query string kept), headers and bytes; the answer streams as the node seals it.
"""
import json
import sys

import openpcc

model = sys.argv[1] if len(sys.argv) > 1 else "llama3"
body = {"model": model, "prompt": "Say hello", "max_tokens": 16, "stream": True}

with openpcc.Client() as client:
    with client.request("POST", "/v1/completions", json=body, headers={"Accept": "text/event-stream"}) as response:
        print("status", response.status, response.content_type, "node", response.node_id)
        for piece in response:  # one SSE event per piece, as soon as the engine wrote it
            sys.stdout.write(piece.decode())
    print("paid", response.credit_value, "refunded", response.refund)
