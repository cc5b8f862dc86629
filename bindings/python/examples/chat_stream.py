"""Streams a private chat answer: python3 chat_stream.py [model] [prompt]

The config is $OPENPCC_CLIENT_CONFIG, else ./openpcc-dev/client.json (what `openpcc dev up` writes).
"""
import sys

import openpcc

model = sys.argv[1] if len(sys.argv) > 1 else "llama3"
prompt = sys.argv[2] if len(sys.argv) > 2 else "Why is the sky blue?"

with openpcc.Client() as client:
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        max_tokens=64,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices:
            print(chunk.choices[0].delta.content or "", end="", flush=True)
    print()
