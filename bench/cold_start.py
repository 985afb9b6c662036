"""Cold start as Lambda runs the package: every function's init, before and after the zip rewrite, against a bare app.

For each function of the packaged template (REST, the three socket handlers, the upload handler, and whatever
function a later change adds: they are read from ``sam.yaml``), a fresh interpreter imports the function's handler
from the zips laid out as Lambda lays them out (``infrastructure/lambda_layout.py``: function code, then the layer,
then the runtime's compiled SDK; read-only; bytecode writing off; nothing from this environment; ``_HANDLER`` set to
the function's handler, as Lambda sets it, from which ``app.py`` imports only that function's entry point) and
reports the CPU time of ``import app`` plus the handler lookup: Lambda's init phase (billed since August 2025).
Then, in the same interpreter, the CPU time of what that function imports on its first request (``FIRST_USE``:
PyJWT for the functions that verify tokens, Pillow for the upload handler), which its first invocation pays.
``python -m bench.cold_start`` runs this section alone.

- *before*: the zips as Chalice makes them (``python -m infrastructure.package --chalice-zips`` on a copy of the
  project, so Chalice's cache of rewritten zips is not reused): sources only, botocore in the layer;
- *after*: the zips ``make package`` and ``make deploy`` ship (``infrastructure/lambda_zips.py``);
- the baseline: a bare Chalice app (``import boto3``, ``Chalice(...)``, one route) packaged the same two ways, whose
  boto3 is the runtime's compiled copy, as on Lambda.

CPU time, not wall time: on this shared 2-core machine waiting for a core is not the import's work. On Lambda the
init runs on the share of a core the function's memory buys (a full vCPU at 1,769 MB), so its wall time is longer
at 256-512 MB; ``bench/cost.py`` models that.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from infrastructure import lambda_layout

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_TIMEOUT_SECONDS = 900
IMPORT_TARGET = 1.3  # import app <= 1.3x the bare app's
# What each handler imports on its first request, not at init (chalicelib/auth/tokens.py imports PyJWT on the
# first token check; chalicelib/services/attachments.py imports Pillow and pillow-heif to process an upload).
FIRST_USE = {"app.app": "jwt", "app.connect": "jwt", "app.on_upload": "PIL.Image, PIL.ImageOps, pillow_heif"}
BARE_APP = '''"""A bare Chalice app: the cold-start baseline (boto3 from the runtime, as a typical function has it)."""
import boto3
from chalice import Chalice

app = Chalice(app_name="bare")


@app.route("/")
def index():
    return {"s3": boto3.__name__}
'''
BARE_CONFIG = {"version": "2.0", "app_name": "bare", "automatic_layer": True, "stages": {"dev": {}}}
_MEASURE = """
_t0, _w0 = time.process_time(), time.perf_counter()
import {module}
_handler = getattr({module}, {attribute!r})
_init, _wall = time.process_time() - _t0, time.perf_counter() - _w0
_compiled_at_init = len(_compiled)
_t1 = time.process_time()
{first_use}
_first = time.process_time() - _t1
"""


@dataclass
class Function:
    """One function of the template and its measurements (ms)."""

    name: str  # the template's resource name: APIHandler, WebsocketConnect ...
    handler: str  # app.app, app.connect ...
    memory_mb: int
    init_ms: dict[str, list[float]] = field(default_factory=dict)  # state -> CPU ms of each run
    wall_ms: dict[str, list[float]] = field(default_factory=dict)
    first_use_ms: dict[str, list[float]] = field(default_factory=dict)
    compiled: dict[str, int] = field(default_factory=dict)  # state -> modules compiled from source at init
    import_ms: dict[str, float] = field(default_factory=dict)  # module -> own import time, after (-X importtime)

    def median(self, state: str) -> float:
        return statistics.median(self.init_ms[state])

    def first_use(self, state: str) -> float:
        return statistics.median(self.first_use_ms[state]) if self.first_use_ms.get(state) else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "handler": self.handler,
            "memory_mb": self.memory_mb,
            "init_median_ms": {state: round(self.median(state), 1) for state in self.init_ms},
            "init_ms": {state: [round(v, 1) for v in values] for state, values in self.init_ms.items()},
            "wall_median_ms": {state: round(statistics.median(v), 1) for state, v in self.wall_ms.items()},
            "first_use_median_ms": {state: round(self.first_use(state), 1) for state in self.first_use_ms},
            "compiled_at_init": self.compiled,
            "import_ms": {name: round(ms, 2) for name, ms in self.import_ms.items()},
        }


@dataclass
class ColdStarts:
    runs: int
    functions: list[Function] = field(default_factory=list)
    bare: Function | None = None
    sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # state -> zip -> bytes
    error: str | None = None

    def ratio(self, function: Function, state: str = "after") -> float:
        assert self.bare is not None
        return function.median(state) / self.bare.median(state)

    def added(self, function: Function, top: int | None = 6) -> list[tuple[str, float]]:
        """What ``function``'s init imports over the bare app's: ``added_imports`` of the two."""
        assert self.bare is not None
        return added_imports(function.import_ms, self.bare.import_ms, top)

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "functions": [f.to_json() for f in self.functions],
            "bare": self.bare.to_json() if self.bare else None,
            "ratios_after": {f.name: round(self.ratio(f), 2) for f in self.functions} if self.bare else {},
            "sizes": self.sizes,
            "error": self.error,
        }


_IMPORT_TIME = re.compile(r"import time:\s+(\d+)\s+\|\s+\d+\s+\|\s*(\S+)")


def import_self_times(stderr: str) -> dict[str, float]:
    """``python -X importtime``'s lines: each module's own import time (ms)."""
    times: dict[str, float] = {}
    for line in stderr.splitlines():
        match = _IMPORT_TIME.match(line)
        if match is not None:
            times[match.group(2)] = int(match.group(1)) / 1000
    return times


def _group(module: str) -> str:
    """A package of the app by its layer (``chalicelib.domain``, ``chalicelib.schemas``...), any other by its name."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "chalicelib" and len(parts) > 1 else parts[0]


def added_imports(function: dict[str, float], bare: dict[str, float], top: int | None = 6) -> list[tuple[str, float]]:
    """The own import time of every module ``function`` imports and ``bare`` does not, summed per package (the
    app's per layer), largest first (the ``top`` of them; all for None): where a function's init goes beyond a bare
    Chalice app's."""
    totals: dict[str, float] = {}
    for module, ms in function.items():
        if module not in bare:
            totals[_group(module)] = totals.get(_group(module), 0.0) + ms
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:top]


def _import_profile(layout: lambda_layout.LambdaLayout, function: Function) -> None:
    """One more fresh interpreter under ``-X importtime``, untimed: each module's own import time at init."""
    module, attribute = function.handler.split(".", 1)
    code = f"import {module}\ngetattr({module}, {attribute!r})\n"
    run = layout.run(code, environment={"_HANDLER": function.handler}, options=("-X", "importtime"))
    function.import_ms = import_self_times(run.stderr)


def _package(project: Path, out: Path, *, lean: bool) -> None:
    command = [sys.executable, "-m", "infrastructure.package", "--stage", "dev", "--out", str(out)]
    command += ["--project-dir", str(project)] + ([] if lean else ["--chalice-zips"])
    completed = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT_SECONDS, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"packaging {project.name} failed:\n{(completed.stdout + completed.stderr)[-2000:]}")


def _project_copy(target: Path) -> Path:
    """What ``chalice package`` reads, without Chalice's cache (its zips there are rewritten already)."""
    target.mkdir(parents=True)
    for name in ("app.py", "requirements.txt"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(ROOT / "chalicelib", target / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".chalice", target / ".chalice", ignore=shutil.ignore_patterns("deployments", "deployed"))
    return target


def _bare_project(target: Path) -> Path:
    (target / ".chalice").mkdir(parents=True)
    (target / "app.py").write_text(BARE_APP)
    (target / "requirements.txt").write_text("")
    (target / ".chalice" / "config.json").write_text(json.dumps(BARE_CONFIG, indent=2))
    return target


def _functions(template_path: Path) -> list[Function]:
    template = yaml.safe_load(template_path.read_text())
    found = []
    for name, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            properties = resource["Properties"]
            found.append(Function(name, properties["Handler"], int(properties.get("MemorySize", 128))))
    return sorted(found, key=lambda f: f.name)


def _layout(root: Path, out: Path, sdk: Path) -> lambda_layout.LambdaLayout:
    layer = out / "layer-deployment.zip"
    return lambda_layout.extract(root, out / "deployment.zip", layer if layer.exists() else None, sdk)


def _measure(layout: lambda_layout.LambdaLayout, function: Function, state: str, *, bare: bool = False) -> None:
    module, attribute = function.handler.split(".", 1)
    first_use = f"import {FIRST_USE[function.handler]}" if function.handler in FIRST_USE and not bare else "pass"
    code = _MEASURE.format(module=module, attribute=attribute, first_use=first_use)
    # Lambda names the function's handler in _HANDLER (app.py imports only that function's entry point).
    run = layout.run(code, "[_init, _wall, _first, _compiled_at_init]", {"_HANDLER": function.handler})
    init, wall, first, compiled = run.result
    function.init_ms.setdefault(state, []).append(init * 1000)
    function.wall_ms.setdefault(state, []).append(wall * 1000)
    function.first_use_ms.setdefault(state, []).append(first * 1000)
    function.compiled[state] = compiled


def measure(after: Path, runs: int = 7) -> ColdStarts:
    """``after``: a folder with ``make package``'s output (``sam.yaml`` and both zips)."""
    result = ColdStarts(runs)
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        root = Path(tmp)
        outputs = {"after": after, "before": root / "before"}
        _package(_project_copy(root / "project"), outputs["before"], lean=False)
        bare_outputs = {"after": root / "bare-after", "before": root / "bare-before"}
        for state, out in bare_outputs.items():
            _package(_bare_project(root / f"bare-project-{state}"), out, lean=state == "after")
        for state, out in outputs.items():
            result.sizes[state] = {p.name: p.stat().st_size for p in sorted(out.glob("*.zip"))}
        sdk = lambda_layout.runtime_sdk(root / "sdk")
        layouts = {state: _layout(root / f"lambda-{state}", out, sdk) for state, out in outputs.items()}
        bare_layouts = {state: _layout(root / f"lambda-bare-{state}", out, sdk) for state, out in bare_outputs.items()}
        result.functions = _functions(after / "sam.yaml")
        result.bare = _functions(bare_outputs["after"] / "sam.yaml")[0]
        try:
            for _ in range(runs):  # round-robin: a noisy moment of the machine touches every row alike
                for state in ("before", "after"):
                    _measure(bare_layouts[state], result.bare, state, bare=True)
                    for function in result.functions:
                        _measure(layouts[state], function, state)
            _import_profile(bare_layouts["after"], result.bare)
            for function in result.functions:
                _import_profile(layouts["after"], function)
        finally:
            for layout in [*layouts.values(), *bare_layouts.values()]:
                lambda_layout.remove(layout)
    return result


def main(argv: list[str] | None = None) -> int:
    """Only this section of ``make bench``: package the app as ``make package`` does, measure, print the table
    (``python -m bench.cold_start [--runs N]``; leaves bench/RESULTS.md alone)."""
    import argparse

    from bench.report import _lambda_cold_starts

    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=main.__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per function and state (default 7)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-cold-package-") as tmp:
        after = Path(tmp) / "package"
        _package(ROOT, after, lean=True)
        starts = measure(after, args.runs)
    print("\n".join(_lambda_cold_starts(starts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
