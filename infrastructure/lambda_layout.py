"""The packaged zips laid out as Lambda runs them, for the zip tests and the cold-start benchmark.

Lambda extracts the function zip to ``/var/task`` and each layer to ``/opt``, both read-only, and starts the
runtime's interpreter with ``sys.path`` = ``/var/task``, ``/opt/python/lib/pythonX.Y/site-packages``,
``/opt/python``, then the runtime's own packages (boto3, botocore and their dependencies, shipped compiled), then
the standard library. ``LambdaLayout`` rebuilds that on this machine: the zips extracted into ``task/`` and
``opt/`` (made read-only), a ``runtime/`` folder holding this environment's SDK compiled as the runtime ships it,
and fresh interpreters started with ``-S`` (no site-packages of this environment: what the zips lack fails to
import, as it would on Lambda) and ``-B`` (no bytecode written). ``run`` counts the modules the interpreter had
to compile from source under the layout's folders (none, when the zips carry their bytecode).
"""

from __future__ import annotations

import compileall
import json
import os
import py_compile
import shutil
import stat
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The runtime's own packages: the SDK and what it depends on (what /var/runtime or the runtime's site-packages
# hold on Lambda's python3.x images).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
TIMEOUT_SECONDS = 120

# Runs before the measured code in the fresh interpreter: the path as Lambda sets it, and a count of the modules
# compiled from source inside the layout (SourceLoader.source_to_code runs only when no usable .pyc exists).
_PRELUDE = """
import sys, time
sys.path[:0] = {path!r}
import importlib._bootstrap_external as _external
_roots = {roots!r}
_compiled = []
_source_to_code = _external.SourceLoader.source_to_code
def _counting(self, data, path, *, _optimize=-1):
    if isinstance(path, str) and path.startswith(_roots):
        _compiled.append(path)
    return _source_to_code(self, data, path, _optimize=_optimize)
_external.SourceLoader.source_to_code = _counting
"""
_REPORT = """
import json as _json
print(_json.dumps({{"result": {result}, "compiled": _compiled}}))
"""


@dataclass
class Run:
    """What one fresh interpreter printed."""

    result: Any
    compiled: list[str]
    stderr: str = ""  # what the interpreter wrote there (``-X importtime``'s lines, for one)


@dataclass
class LambdaLayout:
    root: Path
    python: str  # "python3.11"

    @property
    def task(self) -> Path:
        return self.root / "task"

    @property
    def opt(self) -> Path:
        return self.root / "opt"

    @property
    def runtime(self) -> Path:
        return self.root / "runtime"

    def sys_path(self) -> list[str]:
        site = self.opt / "python" / "lib" / self.python / "site-packages"
        return [str(self.task), str(site), str(self.opt / "python"), str(self.runtime)]

    def run(
        self,
        code: str,
        result: str = "None",
        environment: dict[str, str] | None = None,
        *,
        options: tuple[str, ...] = (),
    ) -> Run:
        """``code`` in a fresh interpreter on this layout; ``result`` is an expression printed as JSON after it;
        ``options``: more of the interpreter's own (``-X importtime``)."""
        roots = tuple(str(p) + os.sep for p in (self.task, self.opt, self.runtime))
        program = _PRELUDE.format(path=self.sys_path(), roots=roots) + code + _REPORT.format(result=result)
        completed = subprocess.run(
            [sys.executable, "-S", "-B", *options, "-c", program],
            cwd=self.task,
            env=lambda_environment(environment),
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"the interpreter failed on the Lambda layout:\n{completed.stderr[-3000:]}")
        report = json.loads(completed.stdout.strip().splitlines()[-1])
        return Run(report["result"], report["compiled"], completed.stderr)


def lambda_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment like Lambda's: a region and credentials, nothing pointing anywhere, no bytecode written."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_LAMBDA_FUNCTION_NAME": "crochet-messaging-dev",
            "STAGE": "dev",
            # A deployed stage names its secret (the settings refuse to start without one); its value does not matter.
            "JWT_SECRET": "lambda-layout-secret-0123456789-0123456789",
            "LOG_LEVEL": "INFO",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only on Lambda
        }
    )
    env.update(extra or {})
    return env


def _read_only(directory: Path) -> None:
    for path in [directory, *directory.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(directory: Path) -> None:
    for path in [directory, *directory.rglob("*")]:
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def runtime_sdk(target: Path, source: Path | None = None) -> Path:
    """The runtime's SDK in ``target``: this environment's (or ``source``'s) boto3, botocore and their dependencies,
    compiled as the Lambda runtime ships them."""
    if source is None:
        import boto3

        source = Path(boto3.__file__).resolve().parent.parent
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PACKAGES:
        path = source / name
        if path.is_dir():
            shutil.copytree(path, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, target / name)
    compileall.compile_dir(target, quiet=2, workers=0, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    return target


def extract(root: Path, function_zip: Path, layer_zip: Path | None, sdk: Path) -> LambdaLayout:
    """Lay the zips out under ``root`` as Lambda does, with ``sdk`` (a ``runtime_sdk`` folder) as the runtime's."""
    layout = LambdaLayout(root, f"python{sys.version_info.major}.{sys.version_info.minor}")
    with zipfile.ZipFile(function_zip) as archive:
        archive.extractall(layout.task)
    layout.opt.mkdir(parents=True)
    if layer_zip is not None:
        with zipfile.ZipFile(layer_zip) as archive:
            archive.extractall(layout.opt)
    shutil.copytree(sdk, layout.runtime)
    for directory in (layout.task, layout.opt, layout.runtime):
        _read_only(directory)
    return layout


def remove(layout: LambdaLayout) -> None:
    """Delete a layout (its folders are read-only)."""
    if layout.root.exists():
        _writable(layout.root)
        shutil.rmtree(layout.root)
