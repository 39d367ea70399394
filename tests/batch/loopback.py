"""A tiny loopback server answering every ``POST`` with what a test sets (test helper): a
non-streamed chat completion saying ``content``, or ``status`` with ``body`` and ``headers`` —
for what the emulator will not say (the key in an answer or an error, HTML, a header echo)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Said:
    content: str = "ok"
    model: str = "deepseek-v4-flash"
    status: int = 200
    body: Any = None  # an error body (JSON, or bytes as they are) instead of the answer
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def payload(self) -> bytes:
        if self.body is not None:
            return self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        message = {"role": "assistant", "content": self.content}
        return json.dumps({
            "id": "resp-1", "object": "chat.completion", "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }).encode()  # fmt: skip


@contextmanager
def loopback() -> Iterator[Said]:
    said = Said()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            said.requests.append(json.loads(self.rfile.read(int(self.headers.get("content-length", 0)))))
            data = said.payload()
            self.send_response(said.status)
            for name, value in {**said.headers, "content-type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    said.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield said
    finally:
        server.shutdown()
        server.server_close()
