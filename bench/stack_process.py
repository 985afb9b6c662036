"""Start and stop ``dev.stack`` as a child process, as the benches through the local stack do."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bench.limits import LIMITS_OFF
from dev.stack import PORT_VARIABLES

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stack_environment(jwt_secret: str, extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment for a bench stack: free ports, no stage of the caller's, no limits, quiet logs."""
    env = {k: v for k, v in os.environ.items() if k not in ("STAGE", "TABLE_PREFIX", "AWS_ENDPOINT_URL")}
    env.update({name: str(free_port()) for name in PORT_VARIABLES})
    env.update(
        {
            "JWT_SECRET": jwt_secret,
            "PYTHONUNBUFFERED": "1",
            **LIMITS_OFF,  # a bench's clients send as fast as they can: no per-user limit, no connection cap
            "LOG_LEVEL": "WARNING",  # a line per request and frame would cost the stack more than the work
            "DEV_DATA_DIR": "off",  # a bench starts empty and leaves nothing behind
        }
    )
    env.update(extra)
    return env


def launch(env: Mapping[str, str], ready_file: Path, log: Path) -> subprocess.Popen[bytes]:
    """``python -m dev.stack`` writing its ready file and its log where the bench reads them."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "dev.stack", "--ready-file", str(ready_file)],
            cwd=ROOT,
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen[bytes], timeout_seconds: float) -> int:
    """SIGTERM (as ``make dev``'s Ctrl-C), SIGKILL only if it does not stop in time; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
