"""What goes into the Lambda zips: bytecode compiled for the runtime, and not the SDK the runtime already has.

Chalice zips sources only (and whatever stale ``__pycache__`` the working tree holds). On Lambda ``/var/task``
and ``/opt`` are read-only, so every module without a ``.pyc`` is compiled again at every cold start (the init
phase Lambda bills since August 2025). And pip puts botocore in the layer (PynamoDB requires it), where it
shadows the runtime's own compiled copy. Both zips Chalice builds are therefore rewritten, once, right where
Chalice caches them (``.chalice/deployments``), so ``chalice package`` and ``chalice deploy`` ship the very same
files:

- every ``.py`` gets an unchecked-hash ``.pyc`` in ``__pycache__`` (PEP 552: never compared with the source, so
  nothing is stat'ed or recompiled on a read-only file system), compiled by this interpreter, which must be the
  runtime's Python version (Chalice picks the runtime from it: ``python3.11`` here), with the path the module has
  on Lambda as its file name (tracebacks read ``/var/task/chalicelib/...``); stale ``.pyc`` files are dropped;
- the layer loses ``boto3``, ``botocore`` and ``s3transfer`` (``RUNTIME_PROVIDED``) and whatever only they
  need (``jmespath``, ``python-dateutil``, ``six``, ``urllib3``): the distributions left are exactly what
  ``requirements.txt`` needs, resolved from the layer's own metadata. The runtime's SDK version follows
  AWS's updates of the runtime; what the app needs from it is in ``RUNTIME_SDK_MINIMUM``.

The zip's comment records what was done (``MARKER``), so a zip Chalice reuses from its cache is not rewritten
twice. ``python -m infrastructure.lambda_zips <chalice arguments>`` is Chalice's CLI with the rewrite in place:
``infrastructure/deploy.py`` runs ``chalice deploy`` through it, ``infrastructure/package.py`` ``chalice
package``.
"""

from __future__ import annotations

import functools
import json
import py_compile
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

MARKER = b"crochet-messaging lambda zip v1 "
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# The oldest SDK the app is tested against (tests/infrastructure/test_runtime_sdk.py): every python3.11+ runtime
# AWS has shipped since 2024 carries at least this (AWS only ever moves the runtime's SDK forward).
RUNTIME_SDK_MINIMUM = {"boto3": "1.34.0", "botocore": "1.34.0"}
# Where Lambda puts each zip: the function code in /var/task, a layer's files in /opt.
LAMBDA_ROOTS = {"function": "/var/task", "layer": "/opt"}
_NEVER_DEPENDENCIES = frozenset({"chalice"})  # Chalice adds its own runtime to the function zip


class LambdaZipError(Exception):
    """A zip cannot be made right for the runtime (the message says why)."""


@dataclass
class Rewrite:
    """What the rewrite of one zip did (also stored in the zip's comment)."""

    kind: str  # "function" | "layer"
    python: str  # "python3.11"
    compiled: int = 0
    dropped_stale: int = 0
    removed: list[str] = field(default_factory=list)  # distributions left to the runtime
    uncompilable: list[str] = field(default_factory=list)  # .py files that are not Python 3 (never importable)

    def comment(self) -> bytes:
        return MARKER + json.dumps(self.__dict__, sort_keys=True).encode()


def rewrite_info(path: Path) -> dict[str, Any] | None:
    """What the rewrite recorded in ``path``'s comment, or None for a zip as Chalice made it."""
    with zipfile.ZipFile(path) as archive:
        comment = archive.comment
    if not comment.startswith(MARKER):
        return None
    return json.loads(comment[len(MARKER) :])


def _check_interpreter(python_version: str) -> None:
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if python_version != running:
        raise LambdaZipError(
            f"the zips are for the {python_version} runtime, but this interpreter is {running}: its bytecode would "
            f"not load there. Package with a {python_version} interpreter (make install with PYTHON={python_version})"
        )


# --- the layer's distributions ---------------------------------------------------------------------------------


@dataclass
class Distribution:
    name: str  # canonical
    dist_info: str  # the dist-info folder's path in the zip
    requires: list[Requirement]
    files: set[str]  # paths in the zip (from RECORD), relative to the zip's root


def distributions(names: Sequence[str], read: Callable[[str], bytes], prefix: str) -> dict[str, Distribution]:
    """The distributions a layer holds, from their dist-info ``METADATA`` and ``RECORD``."""
    found: dict[str, Distribution] = {}
    for name in names:
        match = re.fullmatch(re.escape(prefix) + r"([^/]+\.dist-info)/METADATA", name)
        if match is None:
            continue
        dist_info = prefix + match.group(1)
        metadata = read(name).decode("utf-8", "replace")
        project = re.search(r"^Name: (.+)$", metadata, re.M)
        if project is None:
            continue
        requires = [Requirement(line) for line in re.findall(r"^Requires-Dist: (.+)$", metadata, re.M)]
        files = {dist_info + "/RECORD"}
        record = dist_info + "/RECORD"
        if record in names:
            for line in read(record).decode("utf-8", "replace").splitlines():
                path = line.rsplit(",", 2)[0].strip('"')
                if path and not path.startswith("../"):
                    files.add(prefix + str(PurePosixPath(path)))
        found[canonicalize_name(project.group(1).strip())] = Distribution(
            canonicalize_name(project.group(1).strip()), dist_info, requires, files
        )
    return found


def needed(found: dict[str, Distribution], requirements: list[Requirement], python_version: str) -> set[str]:
    """The distributions ``requirements`` pull in, transitively, never through what the runtime provides."""
    environment = {**default_environment(), "python_version": python_version.removeprefix("python")}
    environment["sys_platform"], environment["platform_system"] = "linux", "Linux"
    pending = [(r, frozenset(r.extras)) for r in requirements]
    closure: set[str] = set()
    while pending:
        requirement, extras = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in closure or name in RUNTIME_PROVIDED or name in _NEVER_DEPENDENCIES or name not in found:
            continue
        closure.add(name)
        for dependency in found[name].requires:
            if dependency.marker is None or any(
                dependency.marker.evaluate({**environment, "extra": extra}) for extra in (extras or {""})
            ):
                pending.append((dependency, frozenset(dependency.extras)))
    return closure


def project_requirements(project_dir: Path) -> list[Requirement]:
    path = project_dir / "requirements.txt"
    if not path.exists():
        return []
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


# --- rewriting a zip -------------------------------------------------------------------------------------------


def _pyc_path(source: str) -> str:
    path = PurePosixPath(source)
    tag = sys.implementation.cache_tag  # "cpython-311"
    return str(path.parent / "__pycache__" / f"{path.stem}.{tag}.pyc")


def rewrite(path: Path, *, kind: str, python_version: str, project_dir: Path) -> Rewrite:
    """Rewrite one of Chalice's zips in place (see the module docstring); a rewritten zip is left as it is."""
    _check_interpreter(python_version)
    info = rewrite_info(path)
    if info is not None:
        return Rewrite(**info)
    result = Rewrite(kind, python_version)
    site = f"python/lib/{python_version}/site-packages/"
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        names = [entry.filename for entry in entries]
        # A layer keeps its packages under python/lib/<version>/site-packages; a function zip without a layer
        # holds them at its root, next to the app.
        prefix = site if kind == "layer" else ""
        found = distributions(names, archive.read, prefix)
        drop: set[str] = set()
        if found:
            keep = needed(found, project_requirements(project_dir), python_version)
            for name, distribution in sorted(found.items()):
                if name not in keep:
                    result.removed.append(name)
                    drop |= distribution.files
                    drop |= {n for n in names if n.startswith(distribution.dist_info + "/")}
        with tempfile.TemporaryDirectory(prefix="lambda-zip-") as tmp:
            root = Path(tmp)
            target = root / "rewritten.zip"
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
                for entry in entries:
                    name = entry.filename
                    if name in drop:
                        continue
                    if name.endswith((".pyc", ".pyo")) or "/__pycache__/" in f"/{name}":
                        result.dropped_stale += 1
                        continue
                    data = archive.read(entry)
                    out.writestr(entry, data)
                    if not name.endswith(".py") or entry.is_dir():
                        continue
                    source = root / "src" / name
                    source.parent.mkdir(parents=True, exist_ok=True)
                    source.write_bytes(data)
                    compiled = root / "pyc" / name
                    lambda_path = f"{LAMBDA_ROOTS[kind]}/{name}"
                    try:
                        py_compile.compile(
                            str(source),
                            cfile=str(compiled),
                            dfile=lambda_path,
                            doraise=True,
                            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                        )
                    except py_compile.PyCompileError:
                        result.uncompilable.append(name)
                        continue
                    pyc = zipfile.ZipInfo(_pyc_path(name), date_time=entry.date_time)
                    pyc.external_attr = entry.external_attr
                    pyc.compress_type = zipfile.ZIP_DEFLATED
                    out.writestr(pyc, compiled.read_bytes())
                    result.compiled += 1
                out.comment = result.comment()
            shutil.move(str(target), path)
    return result


# --- hooking Chalice's packagers -------------------------------------------------------------------------------


def _rewriting(original: Callable[..., str], kind: str) -> Callable[..., str]:
    @functools.wraps(original)
    def create_deployment_package(self: Any, project_dir: str, python_version: str) -> str:
        filename = original(self, project_dir, python_version)
        rewrite(Path(filename), kind=kind, python_version=python_version, project_dir=Path(project_dir))
        return filename

    return create_deployment_package


@contextmanager
def lean_zips() -> Iterator[None]:
    """Inside the block, every zip Chalice's packagers build (``chalice package`` and ``chalice deploy`` alike) is
    rewritten before Chalice uses it."""
    from chalice.deploy import packager

    targets = {
        packager.AppOnlyDeploymentPackager: "function",  # the app, with automatic_layer
        packager.LambdaDeploymentPackager: "function",  # the app and its packages, without a layer
        packager.LayerDeploymentPackager: "layer",
    }
    originals = {cls: cls.create_deployment_package for cls in targets}
    for cls, kind in targets.items():
        cls.create_deployment_package = _rewriting(originals[cls], kind)  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.create_deployment_package = original  # type: ignore[method-assign]


def chalice(arguments: Sequence[str]) -> int:
    """Chalice's CLI (``chalice <arguments>``) with lean zips; returns its exit code."""
    from chalice.cli import cli

    with lean_zips():
        try:
            cli.main(args=list(arguments), prog_name="chalice", obj={}, standalone_mode=False)
        except SystemExit as exit_:
            return int(exit_.code or 0)
        except LambdaZipError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(chalice(sys.argv[1:]))
