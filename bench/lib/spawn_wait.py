#!/usr/bin/env python3
"""Starts a server and waits for its first good /health answer.

    spawn_wait.py --port PORT --log FILE [--timeout S] -- COMMAND [ARGS...]

Starts COMMAND (environment inherited, stdout and stderr to FILE, its own process group
so that the caller can stop it), then polls http://127.0.0.1:PORT/health every
millisecond. On the first 200 it prints "<pid> <ms>" — ms from just before the process
was started to that answer, i.e. cold start to the first good response — and exits,
leaving the server running. Exits 1 (and stops the server) if the process dies or does
not answer in time.
"""
import argparse
import http.client
import os
import signal
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    log = open(args.log, "ab")
    start = time.monotonic_ns()
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = start + int(args.timeout * 1e9)
    while True:
        now = time.monotonic_ns()
        if proc.poll() is not None:
            print(f"spawn_wait: the server exited with {proc.returncode} before answering; see {args.log}",
                  file=sys.stderr)
            return 1
        if now > deadline:
            print(f"spawn_wait: no good /health answer within {args.timeout}s; see {args.log}", file=sys.stderr)
            os.killpg(proc.pid, signal.SIGKILL)
            return 1
        try:
            conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=2)
            conn.request("GET", "/health")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                elapsed_ms = (time.monotonic_ns() - start) / 1e6
                print(f"{proc.pid} {elapsed_ms:.1f}")
                return 0
        except OSError:
            pass
        time.sleep(0.001)


if __name__ == "__main__":
    sys.exit(main())
