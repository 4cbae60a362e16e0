"""Run aiproxyapi inside your own program, and talk to it with the openai SDK.

    uv run python examples/embedded.py

The gateway serves on 127.0.0.1:8400 in a background thread until the program sets `stop`.
"""

from __future__ import annotations

import threading

import openai

import aiproxyapi

CONFIG = """
host: 127.0.0.1
port: 8400
api-keys: ["replace-with-a-long-random-client-key"]
openai-compatibility:
  - name: upstream
    base-url: https://api.example.com/v1
    api-key-entries:
      - api-key: replace-with-upstream-key
    models:
      - name: example-model
"""


def main() -> None:
    """Start the gateway, list its models through it, stop it."""
    stop = threading.Event()
    server = threading.Thread(target=aiproxyapi.serve, args=(CONFIG,), kwargs={"stop": stop})
    server.start()
    try:
        client = openai.OpenAI(
            base_url="http://127.0.0.1:8400/v1", api_key="replace-with-a-long-random-client-key"
        )
        for _ in range(50):
            try:
                print([model.id for model in client.models.list()])
                break
            except openai.APIConnectionError:
                threading.Event().wait(0.1)  # still starting
    finally:
        stop.set()
        server.join()


if __name__ == "__main__":
    main()
