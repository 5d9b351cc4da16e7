"""Load and attack traffic for bench/checkout_bench.py, on asyncio (one light process).

    python bench/load.py buyers   URL BODY --connections 64 --seconds 10 [--rate 150]
    python bench/load.py attack   URL BODY --trickle 300 --idle 200 --seconds 30 --buyers 8
    python bench/load.py stampede URL BODY --buyers 100 --timeout 40

Each prints one JSON line of figures. Every loop is bounded in time and count and only
talks to the URL given (loopback in the benchmark).

buyers    keep-alive connections posting the buy form back to back (throughput, latency), or
          paced at ``--rate`` checkouts/s (CPU per checkout at the same rate for every server)
attack    sockets that send headers a byte at a time and sockets that send nothing, each
          reopened when the server drops it, while buyers (a new connection per checkout,
          as browsers arriving) keep buying; reports the buyers' latencies and failures
stampede  that many buyers at once, each on its own connection, and ``GET /healthz`` polled
          meanwhile; reports the slowest buyer and the slowest health check
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


def request(method: str, host: str, path: str, body: str = "", close: bool = False) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
    if body:
        head += "Content-Type: application/x-www-form-urlencoded\r\n"
        head += f"Content-Length: {len(body)}\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n" + body).encode()


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response with a Content-Length body; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


class Figures:
    """Latencies (s) and failures of buyers' requests."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0

    def add(self, began: float, status: int | None) -> None:
        self.latencies.append(time.perf_counter() - began)
        if status is None or status >= 400:
            self.errors += 1
        if status is not None:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self, seconds: float) -> dict:
        cuts = statistics.quantiles(self.latencies, n=100) if len(self.latencies) > 1 else [0] * 99
        return {
            "requests": len(self.latencies),
            "seconds": seconds,
            "rps": len(self.latencies) / seconds,
            "p50_ms": cuts[49] * 1e3,
            "p99_ms": cuts[98] * 1e3,
            "max_ms": max(self.latencies, default=0) * 1e3,
            "errors": self.errors,
            "statuses": self.statuses,
        }


class KeepAliveBuyer(asyncio.Protocol):
    """One keep-alive connection posting the buy form back to back, on asyncio's protocol
    layer: a request is one ``write`` and the answer is parsed as it arrives, with no
    stream, task or timer per request, so that the generator's own CPU stays small beside
    the server's on the cores they share."""

    def __init__(self, message: bytes, stop_at: float, figures: Figures, interval: float) -> None:
        self.message, self.stop_at, self.figures = message, stop_at, figures
        self.interval = interval  # between the starts of two requests; 0: back to back
        self.buffer = b""
        self.began = 0.0
        self.loop = asyncio.get_running_loop()
        self.done = self.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.send()

    def send(self) -> None:
        if self.transport.is_closing():
            return
        self.began = time.perf_counter()
        self.transport.write(self.message)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (answer := _complete_response(self.buffer)) is not None:
            status, size = answer
            self.buffer = self.buffer[size:]
            self.figures.add(self.began, status)
            if time.monotonic() >= self.stop_at:
                self.transport.close()
                return
            wait = self.began + self.interval - time.perf_counter()
            if wait > 0:
                self.loop.call_later(wait, self.send)
            else:
                self.send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _complete_response(buffer: bytes) -> tuple[int, int] | None:
    """(status, bytes) of the first response in ``buffer`` once it is complete, else None.
    Parsed where it lies in the buffer, without decoding it: this runs once per checkout on
    the cores the server uses too."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buffer[: end + 2].lower()  # each header line ends in CRLF, the last one too
    at = head.find(b"\r\ncontent-length:")
    length = int(head[at + 17 : head.find(b"\r\n", at + 2)]) if at >= 0 else 0
    size = end + 4 + length
    return (int(head[9:12]), size) if len(buffer) >= size else None


async def keepalive_buyer(
    url, body: str, stop_at: float, figures: Figures, interval: float = 0.0, start: float = 0.0
) -> None:
    """A :class:`KeepAliveBuyer` until ``stop_at``, reconnecting whenever it is dropped (a
    drop or a refused connection counts as a failed request)."""
    await asyncio.sleep(start)  # paced connections take turns, not all at once
    parts = urlsplit(url)
    message = request("POST", parts.netloc, parts.path, body)
    loop = asyncio.get_running_loop()
    while time.monotonic() < stop_at:
        began = time.perf_counter()
        try:
            _, buyer = await loop.create_connection(
                lambda: KeepAliveBuyer(message, stop_at, figures, interval),
                parts.hostname,
                parts.port,
            )
        except OSError:
            figures.add(began, None)
            continue
        try:
            async with asyncio.timeout(max(stop_at - time.monotonic(), 0) + 60):
                await buyer.done
        except TimeoutError:
            buyer.transport.abort()
        if time.monotonic() < stop_at:  # dropped in the middle of a request
            figures.add(buyer.began, None)


async def one_checkout(url: str, body: str, timeout: float) -> int | None:
    """A buyer arriving: a new connection, one POST, the answer's status (None: no answer)."""
    return await one_request(url, "POST", body, timeout)


async def one_request(url: str, method: str, body: str, timeout: float) -> int | None:
    """One request on a new connection; the answer's status, or None for no answer."""
    parts = urlsplit(url)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port), timeout
        )
    except (OSError, TimeoutError):
        return None
    try:
        writer.write(request(method, parts.netloc, parts.path, body, close=True))
        return await asyncio.wait_for(read_response(reader), timeout)
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        return None
    finally:
        writer.close()


async def arriving_buyer(url: str, body: str, stop_at: float, figures: Figures) -> None:
    while time.monotonic() < stop_at:
        began = time.perf_counter()
        figures.add(began, await one_checkout(url, body, 30))


async def hostile_socket(url: str, stop_at: float, trickle: bool, counts: dict) -> None:
    """Hold a socket open, sending one header byte a second (trickle) or nothing (idle);
    reopen it whenever the server closes it, until ``stop_at``."""
    parts = urlsplit(url)
    partial = request("POST", parts.netloc, parts.path)[:-2] + b"X-Slow: " + b"a" * 4096
    while time.monotonic() < stop_at:
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError:
            counts["refused"] += 1
            await asyncio.sleep(0.5)
            continue
        counts["opened"] += 1
        sent = 0
        try:
            while time.monotonic() < stop_at:
                if trickle and sent < len(partial):
                    writer.write(partial[sent : sent + 1])
                    sent += 1
                    await writer.drain()
                # A read returns b"" (or fails) once the server has dropped the socket.
                try:
                    data = await asyncio.wait_for(reader.read(1024), 1.0)
                except TimeoutError:
                    continue
                counts["dropped"] += 1
                if data:
                    counts["answered"] += 1
                break
        except OSError:
            counts["dropped"] += 1
        finally:
            writer.close()


async def attack(args: argparse.Namespace) -> dict:
    counts = {"opened": 0, "dropped": 0, "answered": 0, "refused": 0}
    stop_at = time.monotonic() + args.seconds
    figures = Figures()
    hostile = [hostile_socket(args.url, stop_at, True, counts) for _ in range(args.trickle)]
    hostile += [hostile_socket(args.url, stop_at, False, counts) for _ in range(args.idle)]
    tasks = [asyncio.ensure_future(task) for task in hostile]
    await asyncio.sleep(2)  # let the attack take hold before buyers arrive
    started = time.monotonic()
    buyers = [arriving_buyer(args.url, args.body, stop_at, figures) for _ in range(args.buyers)]
    await asyncio.gather(*buyers)
    seconds = time.monotonic() - started
    await asyncio.gather(*tasks)
    return figures.summary(seconds) | {"hostile_sockets": counts}


async def stampede(args: argparse.Namespace) -> dict:
    parts = urlsplit(args.url)
    health = f"{parts.scheme}://{parts.netloc}/healthz"
    health_times: list[float] = []
    health_statuses: dict[int, int] = {}
    done = asyncio.Event()

    async def poll_health() -> None:
        while not done.is_set():
            began = time.perf_counter()
            status = await one_request(health, "GET", "", args.timeout)
            health_times.append(time.perf_counter() - began)
            health_statuses[status or 0] = health_statuses.get(status or 0, 0) + 1
            await asyncio.sleep(0.05)

    async def timed_buyer() -> tuple[float, int | None]:
        began = time.perf_counter()
        status = await one_checkout(args.url, args.body, args.timeout)
        return time.perf_counter() - began, status

    poller = asyncio.ensure_future(poll_health())
    results = await asyncio.gather(*(timed_buyer() for _ in range(args.buyers)))
    done.set()
    await poller
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "buyers": len(results),
        "slowest_buyer_s": max(seconds for seconds, _ in results),
        "unanswered": sum(status is None for _, status in results),
        "statuses": statuses,
        "health_checks": len(health_times),
        "slowest_health_s": max(health_times, default=0.0),
        "health_statuses": health_statuses,
    }


async def buyers(args: argparse.Namespace) -> dict:
    # Paced at --rate checkouts a second in all (each connection at its share), or as fast
    # as the server answers.
    interval = args.connections / args.rate if args.rate else 0.0
    figures = Figures()
    started = time.monotonic()
    stop_at = started + args.seconds
    await asyncio.gather(
        *(
            keepalive_buyer(
                args.url, args.body, stop_at, figures, interval, interval * n / args.connections
            )
            for n in range(args.connections)
        )
    )
    return figures.summary(time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=["buyers", "attack", "stampede"])
    parser.add_argument("url")
    parser.add_argument("body")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=float, default=0, help="buyers: checkouts/s (0: max)")
    parser.add_argument("--trickle", type=int, default=300)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--buyers", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=40)
    args = parser.parse_args()
    scenario = {"buyers": buyers, "attack": attack, "stampede": stampede}[args.scenario]
    print(json.dumps(asyncio.run(scenario(args))))


if __name__ == "__main__":
    main()
