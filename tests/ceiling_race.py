"""Start N worker processes on a new Guard at once, as gunicorn does, and count what passes.

``python tests/ceiling_race.py TRIALS PROCESSES`` prints, per trial, how many of the
processes' hits a fresh Guard with a ceiling of 4 a second let through (each process tries 6
in the same instant as the others), and any warning the Guard logs. Run in a process of its
own: forking pytest's, which may hold threads, is unsafe.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from launchkit.checkout.limiting import Guard, LimitSettings

CEILING = 4
HITS_PER_PROCESS = 6


def first_hits_at_once(guard: Guard, processes: int) -> int:
    """Fork ``processes`` children that wait on one pipe, release them together, and return
    how many of their hits the ceiling allowed."""
    go_read, go_write = os.pipe()
    done_read, done_write = os.pipe()
    for _ in range(processes):
        if os.fork() == 0:
            os.read(go_read, 1)
            allowed = sum(guard.stripe().allowed for _ in range(HITS_PER_PROCESS))
            os.write(done_write, bytes([allowed]))
            os._exit(0)
    os.write(go_write, b"x" * processes)
    allowed = sum(os.read(done_read, 1)[0] for _ in range(processes))
    for _ in range(processes):
        os.wait()
    for fd in (go_read, go_write, done_read, done_write):
        os.close(fd)
    return allowed


def main(trials: int, processes: int) -> None:
    logging.basicConfig(stream=sys.stdout, format="%(message)s")
    for _ in range(trials):
        guard = Guard(LimitSettings((), CEILING, None, ()))  # as the server: before any fork
        print(first_hits_at_once(guard, processes), flush=True)
        guard.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
