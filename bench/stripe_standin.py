"""Stripe for bench/checkout_bench.py: Stripe's HTTP API, cheaply, in a process of its own.

    python bench/stripe_standin.py --delay 0.1 --prices PRICES_JSON

The checkout server's real stripe library talks to it over real HTTP/1.1 (keep-alive), and
every answer leaves ``--delay`` seconds after its request arrived, as Stripe's would. It
answers what the server asks of Stripe, with Stripe's full bodies:

* ``POST /v1/checkout/sessions``: a whole Checkout Session (every field of
  ``tests/stripe_stub.py``'s ``SESSION_DEFAULTS``, plus the id, URL, mode, URLs, referral and
  metadata of the request), with a ``Request-Id`` header;
* ``GET /v1/prices/{id}``: the price of ``--prices`` or Stripe's 404 ``resource_missing``
  (the server checks its catalogue at start);
* 401 without a ``Bearer sk_test_…`` key, 404 for anything else.

Why not tests/stripe_stub.py itself: it is built to be asserted on (a thread per connection,
every request recorded and validated), and cost 0.6-0.96 ms of CPU per checkout on the cores
the server shares in the benchmark, a third of what the server itself spends. Here an
asyncio protocol parses each request where it lies in the buffer and the constant part of
the session's JSON is serialised once, so that what the benchmark measures is the server.
Stripe runs elsewhere in a real deployment.

It prints its URL on the first line of stdout, then reads commands on stdin, one a line,
and answers each with one line: ``count`` (sessions created so far), ``connections``
(connections accepted so far), ``hang N`` (answer
nothing to the next N requests), ``release`` (close the hanging requests' connections
without an answer and answer normally again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import parse_qsl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from stripe_stub import PRICES_PATH, SESSION_DEFAULTS, SESSIONS_PATH, session_fields

_HEAD_END = b"\r\n\r\n"


class StandIn:
    """What every connection shares: the answers' templates, the count, the hangs."""

    def __init__(self, delay: float, prices: dict[str, dict]) -> None:
        self.delay = delay
        self.prices = {PRICES_PATH + price_id: _json(price) for price_id, price in prices.items()}
        self.url = ""
        self.sessions = 0
        self.connections = 0
        self.answered = 0  # Request-Id and session ids: unique per run, no random bytes
        self.to_hang = 0
        self.hanging: list[asyncio.Transport] = []
        # The session's JSON minus its closing brace; a request's own fields are appended.
        self._session_head = json.dumps(SESSION_DEFAULTS)[:-1].encode()

    def answer(self, method: bytes, path: bytes, headers: bytes, body: bytes) -> bytes:
        """The whole HTTP response to one request."""
        self.answered += 1
        if not _test_key(headers):
            message = "Invalid API Key provided (the bench stand-in takes sk_test_... keys)."
            return _response(401, _json(_error(message)), self.answered)
        target = path.decode("latin-1")
        if method == b"POST" and target == SESSIONS_PATH:
            return _response(200, self._session(body), self.answered)
        if method == b"GET" and target in self.prices:
            return _response(200, self.prices[target], self.answered)
        if method == b"GET" and target.startswith(PRICES_PATH):
            error = _error(f"No such price: '{target[len(PRICES_PATH) :]}'", "resource_missing")
            return _response(404, _json(error), self.answered)
        return _response(404, _json(_error(f"Unrecognized request URL ({target}).")), self.answered)

    def _session(self, body: bytes) -> bytes:
        """A Checkout Session for the form ``body``: the template and the request's fields."""
        self.sessions += 1
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        session_id = f"cs_test_{os.getpid():08x}{self.sessions:016x}"
        own = session_fields(params, session_id, self.url)
        return self._session_head + b", " + json.dumps(own).encode()[1:]


class Connection(asyncio.Protocol):
    """One kept-alive connection from the server: requests parsed as they arrive, each
    answered ``delay`` seconds after it came, in order."""

    def __init__(self, stand_in: StandIn) -> None:
        self.stand_in = stand_in
        self.buffer = b""
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.stand_in.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (request := _complete_request(self.buffer)) is not None:
            (method, path, headers, body), size = request
            self.buffer = self.buffer[size:]
            if self.stand_in.to_hang:
                self.stand_in.to_hang -= 1
                self.stand_in.hanging.append(self.transport)
                return
            response = self.stand_in.answer(method, path, headers, body)
            self.loop.call_later(self.stand_in.delay, self._send, response)

    def _send(self, response: bytes) -> None:
        if not self.transport.is_closing():
            self.transport.write(response)


def _complete_request(buffer: bytes) -> tuple[tuple[bytes, bytes, bytes, bytes], int] | None:
    """((method, path, headers, body), bytes used) of the first request once complete."""
    end = buffer.find(_HEAD_END)
    if end < 0:
        return None
    line_end = buffer.find(b"\r\n")
    method, path, _ = buffer[:line_end].split(b" ", 2)
    headers = buffer[line_end : end + 2].lower()  # CRLF before and after each header line
    at = headers.find(b"\r\ncontent-length:")
    length = int(headers[at + 17 : headers.find(b"\r\n", at + 2)]) if at >= 0 else 0
    size = end + 4 + length
    if len(buffer) < size:
        return None
    return (method, path, headers, buffer[end + 4 : size]), size


def _test_key(headers: bytes) -> bool:
    """An ``Authorization: Bearer sk_test_…`` or ``rk_test_…`` header (``headers`` lowered)."""
    at = headers.find(b"\r\nauthorization:")
    value = headers[at + 16 : headers.find(b"\r\n", at + 2)].strip() if at >= 0 else b""
    return value.startswith((b"bearer sk_test_", b"bearer rk_test_"))


_REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found"}


def _response(status: int, body: bytes, number: int) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nRequest-Id: req_{os.getpid():06x}{number:010x}\r\n\r\n"
    )
    return head.encode() + body


def _error(message: str, code: str | None = None) -> dict:
    error = {"type": "invalid_request_error", "message": message}
    return {"error": error | ({"code": code} if code else {})}


def _json(payload: dict) -> bytes:
    return json.dumps(payload).encode()


async def serve(stand_in: StandIn) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: Connection(stand_in), "127.0.0.1", 0, backlog=1024, reuse_address=True
    )
    host, port = server.sockets[0].getsockname()[:2]
    stand_in.url = f"http://{host}:{port}"
    print(stand_in.url, flush=True)
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)
    while line := await commands.readline():
        print(_command(stand_in, line.decode().split()), flush=True)


def _command(stand_in: StandIn, words: list[str]) -> str:
    if words == ["count"]:
        return str(stand_in.sessions)
    if words == ["connections"]:
        return str(stand_in.connections)
    if len(words) == 2 and words[0] == "hang":
        stand_in.to_hang = int(words[1])
        return "ok"
    if words == ["release"]:
        stand_in.to_hang = 0
        for transport in stand_in.hanging:
            transport.close()
        stand_in.hanging.clear()
        return "ok"
    return f"unknown command {' '.join(words)!r}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--delay", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--prices", default="{}", help="the account's prices, as JSON by ID")
    args = parser.parse_args()
    asyncio.run(serve(StandIn(args.delay, json.loads(args.prices))))


if __name__ == "__main__":
    main()
