"""The dev stack (``python -m dev.stack``) as a subprocess on free ports, exactly as ``make dev`` runs it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from chalicelib.auth.tokens import issue_token
from dev.stack import PORT_VARIABLES
from tests.e2e.api_client import Caller
from tests.e2e.ws_client import LiveSocket, open_socket
from tests.tuning import IN_PROCESS_TUNING, RATE_LIMITS_OFF

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
JWT_SECRET = "e2e-secret-0123456789-0123456789-0123456789"


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stack_environment(ports: dict[str, int]) -> dict[str, str]:
    """This process's environment, minus what tests/conftest.py set for the in-process tests: the stack runs with
    ``make dev``'s settings (a connect grace of 30 s above all: with none, a fan-out racing a reconnect forgets the
    new socket), except that rate limits stay off, as the suites act faster than any user."""
    drop = {"STAGE", "TABLE_PREFIX", "PYTEST_CURRENT_TEST", "DEV_SEED", "DEV_MOTO_PATCHES", *IN_PROCESS_TUNING}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(RATE_LIMITS_OFF)
    env.update({name: str(port) for name, port in ports.items()})
    env.update({"JWT_SECRET": JWT_SECRET, "PYTHONUNBUFFERED": "1"})
    return env


def run_stack(env: dict[str, str], *args: str, **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "dev.stack", *args], cwd=ROOT, env=env, **popen)


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    ready: dict[str, Any]
    log: Path

    @property
    def api_url(self) -> str:
        return self.ready["apiUrl"]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def ws_url(self) -> str:
        return self.ready["wsUrl"]

    @property
    def ws_management_url(self) -> str:
        return self.ready["wsManagementUrl"]

    @property
    def web_url(self) -> str:
        """Where the browser reference client is served (``DEV_WEB_PORT``)."""
        return self.ready["webUrl"]

    @property
    def aws_url(self) -> str:
        """moto: the S3 endpoint presigned URLs point at."""
        return self.ready["awsEndpoint"]

    def token(self, user_id: str, role: str | None = None) -> str:
        """The stack's own token for alice and bob, one signed here for anyone else (or any role)."""
        if role is None and user_id in self.ready["tokens"]:
            return self.ready["tokens"][user_id]
        return issue_token(user_id, secret=JWT_SECRET, role=role)

    def caller(self, user_id: str | None) -> Caller:
        """A user of the demo data calling the REST API (None: anonymous)."""
        return Caller(self.api_url, self.token(user_id) if user_id is not None else None)

    def socket(self, user_id: str) -> LiveSocket:
        """A user of the demo data connected to the WebSocket gateway."""
        return open_socket(self.ws_url, self.token(user_id))


def wait_until_ready(process: subprocess.Popen[bytes], ready_file: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if ready_file.exists():
            return json.loads(ready_file.read_text())
        if process.poll() is not None:
            pytest.fail(f"dev.stack exited with {process.returncode} before it was ready:\n{log.read_text()}")
        time.sleep(0.1)
    stop(process)
    pytest.fail(f"dev.stack was not ready after {READY_TIMEOUT_SECONDS} s:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a service manager would; SIGKILL only when it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"dev.stack ignored SIGTERM for {STOP_TIMEOUT_SECONDS} s and was killed")
    return process.returncode


@contextmanager
def start_stack(workdir: Path, **extra_env: str) -> Iterator[RunningStack]:
    """A dev stack on free ports (plus ``extra_env``), stopped with SIGTERM at the end, which must exit 0.

    Its data folder is ``workdir/data`` unless ``extra_env`` names one (``DEV_DATA_DIR``): a test stack never
    reads or writes the developer's ``.dev/data``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    ready_file, log = workdir / "ready.json", workdir / "stack.log"
    env = {
        **stack_environment({name: free_port() for name in PORT_VARIABLES}),
        "DEV_DATA_DIR": str(workdir / "data"),
        **extra_env,
    }
    # A file rather than a pipe: nobody reads a pipe while the tests run, and a full one would block the stack.
    with log.open("wb") as output:
        process = run_stack(env, "--ready-file", str(ready_file), stdout=output, stderr=subprocess.STDOUT)
    try:
        running = RunningStack(process, env, wait_until_ready(process, ready_file, log), log)
        yield running
    finally:
        returncode = stop(process)
    assert returncode == 0, f"dev.stack exited with {returncode}:\n{log.read_text()}"
    assert "Traceback" not in running.output(), running.output()
    assert not ready_file.exists(), "the ready file outlived the stack"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """One dev stack for the module."""
    with start_stack(tmp_path_factory.mktemp("dev-stack")) as running:
        yield running


# --- headless Chromium (tests/e2e/test_browser.py, test_js_client.py, test_readme_examples.py) ----------------------
# The system Chromium (Debian's ``chromium`` package) through Playwright's Python package; Playwright's own browser
# download is never used. Every wait is bounded (``WAIT_MS``).

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "pip install playwright; apt-get install -y chromium (never `playwright install`)"
WAIT_MS = 10_000
LAUNCH_TIMEOUT_MS = 30_000


def require_browser() -> None:
    """Skip without Playwright or the system Chromium; under CI (``CI`` set) that is a failure instead."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright package")
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing.append(CHROMIUM)
    if missing:
        reason = f"missing {' and '.join(missing)}: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module."""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS)
        try:
            yield launched
        finally:
            launched.close()
