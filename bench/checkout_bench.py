"""Checkout throughput: the project's server (gunicorn gthread) vs Bottle's default server.

    .venv/bin/python bench/checkout_bench.py [--seconds 10] [--connections 64] [--delay 0.1]

A StripeStub (tests/stripe_stub.py) stands in for Stripe and answers after ``--delay``
seconds, like a real API call. Each server runs in its own process, started as an owner
would (``checkout_server.py`` for the project; ``bottle.run(app)``, i.e. wsgiref, for the
baseline), and is driven with ``--connections`` concurrent keep-alive connections posting
a buy form, by wrk when installed (else a Python load generator). Prints requests/s, p50,
p99, errors and CPU ms per checkout (the server's processes, the stub) for both, and the
ratio. Target on a 2-core machine: >= 300 checkouts/s, p99 <= 300 ms, no errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from stripe_stub import StripeStub  # noqa: E402

from launchkit.config import load_config  # noqa: E402

CONFIG = ROOT / "site.toml"
REFERRAL = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
BODY = f"product=pro&referral={REFERRAL}"

# wrk posts the buy form and, when done, prints its figures as one JSON line.
WRK_SCRIPT = (
    f'wrk.body = "{BODY}"\n'
    + r"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, e.connect + e.read + e.write + e.status + e.timeout))
end
"""
)


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    sessions: int  # Checkout Sessions the stub created during the run
    server_cpu: float  # CPU seconds of the server's processes (all workers) during the run
    stub_cpu: float  # CPU seconds of this process (the Stripe stand-in) during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def line(self) -> str:
        per_checkout = max(self.sessions, 1) / 1e3  # CPU ms per created session
        return (
            f"{self.name:<28} {self.rps:8.1f} req/s   p50 {self.p50_ms:7.1f} ms   "
            f"p99 {self.p99_ms:8.1f} ms   errors {self.errors:5d}   sessions {self.sessions:6d}   "
            f"CPU/checkout: server {self.server_cpu / per_checkout:5.2f} ms, "
            f"stub {self.stub_cpu / per_checkout:5.2f} ms"
        )


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and all its live descendants (Linux /proc).

    A multi-process server's workers are its children; their time only reaches the
    parent's own counters once they exit, so each process is read on its own.
    """
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent pid, CPU seconds)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # Fields after the ")" that ends the command name: state, ppid, ... utime(14) stime(15).
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, pending = 0.0, [pid]
    while pending:
        parent = pending.pop()
        total += stats.get(parent, (0, 0.0))[1]
        pending += [child for child, (ppid, _) in stats.items() if ppid == parent]
    return total


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(command: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    """Start a server process and wait until /healthz answers.

    Its log goes to a file: a pipe nobody reads fills up after ~400 log lines and then
    blocks every thread of the server that logs.
    """
    log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server process)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return process
        except OSError:
            if process.poll() is not None:
                log.seek(0)
                raise SystemExit(f"server exited: {log.read().decode()}") from None
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start within 30 s")


def drive_with_wrk(url: str, connections: int, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--timeout",
                "30s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def drive_with_python(url: str, connections: int, seconds: int) -> dict:
    """Fallback load generator: one keep-alive connection per thread, like wrk's."""
    parts = urlsplit(url)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker() -> None:
        nonlocal errors
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            try:
                connection.request("POST", parts.path, BODY, headers)
                response = connection.getresponse()
                response.read()
                ok = response.status < 400
            except OSError:
                connection.close()
                ok = False
            with lock:
                latencies.append(time.perf_counter() - began)
                errors += not ok

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "seconds": time.monotonic() - started,
        "p50_ms": cuts[49] * 1e3,
        "p99_ms": cuts[98] * 1e3,
        "errors": errors,
    }


def measure(name: str, command: list[str], port: int, env: dict, stub: StripeStub, args) -> Result:
    process = start(command, env, port)
    try:
        url = f"http://127.0.0.1:{port}{load_config(CONFIG).checkout.endpoint_path}"
        drive = (
            drive_with_wrk if shutil.which("wrk") and not args.python_load else drive_with_python
        )
        before = len(stub.sessions)
        server_before, stub_before = tree_cpu_seconds(process.pid), own_cpu_seconds()
        figures = drive(url, args.connections, args.seconds)
        return Result(
            name=name,
            sessions=len(stub.sessions) - before,
            server_cpu=tree_cpu_seconds(process.pid) - server_before,
            stub_cpu=own_cpu_seconds() - stub_before,
            **figures,
        )
    finally:
        process.terminate()
        process.wait(timeout=10)


def serve_baseline(port: int) -> None:
    """The naive way: the same app on Bottle's default (wsgiref, one request at a time)."""
    import bottle

    from checkout_server import build_app

    bottle.run(build_app(load_config(CONFIG)), host="127.0.0.1", port=port, quiet=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--delay", type=float, default=0.1, help="Stripe's answer time (s)")
    parser.add_argument("--python-load", action="store_true", help="do not use wrk")
    parser.add_argument("--serve-baseline", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        return serve_baseline(args.serve_baseline)

    with StripeStub(delay=args.delay) as stub:
        env = {**os.environ, "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_API_BASE": stub.url}
        env.pop("SITE_CONFIG", None)
        python = sys.executable
        port, baseline_port = free_port(), free_port()
        project = [python, str(ROOT / "checkout_server.py"), "--config", str(CONFIG)]
        project += ["--port", str(port)]
        baseline = [python, __file__, "--serve-baseline", str(baseline_port)]
        load = "wrk" if shutil.which("wrk") and not args.python_load else "python"
        print(
            f"{args.connections} connections, {args.seconds} s each, Stripe answers after "
            f"{args.delay * 1000:.0f} ms, load generator: {load}, {os.cpu_count()} CPUs"
        )
        results = [
            measure("checkout_server (gunicorn)", project, port, env, stub, args),
            measure("baseline (bottle wsgiref)", baseline, baseline_port, env, stub, args),
        ]
    for result in results:
        print(result.line())
    ours, naive = results
    print(f"ratio: {ours.rps / naive.rps:.1f}x the baseline's throughput")
    target = ours.rps >= 300 and ours.p99_ms <= 300 and ours.errors == 0
    print(f"target (>= 300 req/s, p99 <= 300 ms, no errors): {'met' if target else 'MISSED'}")


if __name__ == "__main__":
    main()
