"""What a deploy ships and what a cold start pays for: zip sizes and the import time of the Lambda entry module."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.cold_start import import_self_times

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_TIMEOUT_SECONDS = 600
IMPORT_TIMEOUT_SECONDS = 60
_TIMED_IMPORT = (
    "import time; c, w = time.process_time(), time.perf_counter(); import {modules}; "
    "print(time.process_time() - c, time.perf_counter() - w)"
)


# --- cold start -----------------------------------------------------------------------------------------------


def _lambda_environment() -> dict[str, str]:
    """A clean environment like Lambda's: region and credentials set, nothing pointing anywhere."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "STAGE": "dev",
            # A deployed stage names its secret (settings refuse to start without one); its value does not matter here.
            "JWT_SECRET": "bench-secret-0123456789-0123456789-0123456789",
            "LOG_LEVEL": "INFO",
            "PYTHONHASHSEED": "0",
        }
    )
    return env


def _fresh_python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a fresh interpreter in the project with Lambda's environment."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=_lambda_environment(),
        capture_output=True,
        text=True,
        timeout=IMPORT_TIMEOUT_SECONDS,
        check=True,
    )


def _import_seconds(modules: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of importing ``modules`` in a fresh interpreter."""
    completed = _fresh_python("-c", _TIMED_IMPORT.format(modules=modules))
    cpu, wall = completed.stdout.strip().splitlines()[-1].split()
    return float(cpu), float(wall)


def _import_self_times(modules: str) -> dict[str, float]:
    """``python -X importtime``: each module's own import time (ms, one fresh interpreter)."""
    return import_self_times(_fresh_python("-X", "importtime", "-c", f"import {modules}").stderr)


def _heaviest_imports(module: str, top: int, baseline: str = "chalice, boto3") -> list[tuple[str, float]]:
    """What importing ``module`` adds to ``baseline``: the self time of every module the baseline does not import,
    summed per top-level package (the app's own modules as one), largest first (ms)."""
    already = set(_import_self_times(baseline))
    own = {module, "chalicelib"}
    totals: dict[str, float] = {}
    for name, self_ms in _import_self_times(module).items():
        if name in already:
            continue
        root = name.split(".")[0]
        key = "(app's own modules)" if root in own else root
        totals[key] = totals.get(key, 0.0) + self_ms
    return sorted(totals.items(), key=lambda item: -item[1])[:top]


@dataclass
class ColdStart:
    """Import times of fresh interpreters. CPU time (``time.process_time``) is what the ratio uses: on a shared
    machine, wall time also counts waiting for a core, CPU time only the work the import itself does."""

    runs: int
    app_s: list[float] = field(default_factory=list)
    baseline_s: list[float] = field(default_factory=list)
    app_wall_s: list[float] = field(default_factory=list)
    baseline_wall_s: list[float] = field(default_factory=list)
    app_jwt_s: list[float] = field(default_factory=list)  # import app, jwt: PyJWT is imported on first use
    app_jwt_wall_s: list[float] = field(default_factory=list)
    heaviest: list[tuple[str, float]] = field(default_factory=list)

    @property
    def app_median(self) -> float:
        return statistics.median(self.app_s)

    @property
    def baseline_median(self) -> float:
        return statistics.median(self.baseline_s)

    @property
    def ratio(self) -> float:
        return self.app_median / self.baseline_median

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "app_median_ms": round(self.app_median * 1000, 1),
            "baseline_median_ms": round(self.baseline_median * 1000, 1),
            "ratio": round(self.ratio, 2),
            "app_ms": [round(s * 1000, 1) for s in self.app_s],
            "baseline_ms": [round(s * 1000, 1) for s in self.baseline_s],
            "app_wall_median_ms": round(statistics.median(self.app_wall_s) * 1000, 1),
            "baseline_wall_median_ms": round(statistics.median(self.baseline_wall_s) * 1000, 1),
            "app_jwt_median_ms": round(statistics.median(self.app_jwt_s) * 1000, 1) if self.app_jwt_s else None,
            "heaviest_ms": [(name, round(ms, 1)) for name, ms in self.heaviest],
        }


def measure_cold_start(runs: int = 7) -> ColdStart:
    """Import ``app`` vs ``chalice, boto3`` in fresh interpreters, alternating, ``runs`` times each."""
    result = ColdStart(runs)
    _import_seconds("app")  # compile the bytecode once, as a deployed package would have it
    for _ in range(runs):
        cpu, wall = _import_seconds("chalice, boto3")
        result.baseline_s.append(cpu)
        result.baseline_wall_s.append(wall)
        cpu, wall = _import_seconds("app")
        result.app_s.append(cpu)
        result.app_wall_s.append(wall)
        cpu, wall = _import_seconds("app, jwt")
        result.app_jwt_s.append(cpu)
        result.app_jwt_wall_s.append(wall)
    result.heaviest = _heaviest_imports("app", 10)
    return result


# --- package size ---------------------------------------------------------------------------------------------


@dataclass
class PackageSize:
    ok: bool
    function_zip_bytes: int | None = None
    layer_zip_bytes: int | None = None
    automatic_layer: bool = False
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    largest_in_layer: list[tuple[str, int]] = field(default_factory=list)
    sources: dict[str, dict[str, int]] = field(default_factory=dict)  # zip -> {".py": n, ".pyc": n}
    kept: dict[str, str] = field(default_factory=dict)  # zip -> where a copy was kept
    command: str = ""
    sdk_in_layer: list[str] = field(default_factory=list)  # boto3, botocore, s3transfer packages found in the layer

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _largest_packages(zip_path: Path, top: int) -> list[tuple[str, int]]:
    """Compressed bytes per top-level directory of a layer zip (``python/lib/python3.x/site-packages/<pkg>``)."""
    sizes: dict[str, int] = {}
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            parts = info.filename.split("/")
            name = parts[4] if len(parts) > 5 and parts[0] == "python" else parts[0]
            sizes[name] = sizes.get(name, 0) + info.compress_size
    return sorted(sizes.items(), key=lambda item: -item[1])[:top]


def _drop_log_retention(config: dict[str, Any]) -> bool:
    found = False
    for scope in [config, *config.get("stages", {}).values()]:
        for holder in [scope, *scope.get("lambda_functions", {}).values()]:
            if holder.pop("log_retention_in_days", None) is not None:
                found = True
    return found


def measure_package(stage: str = "dev", keep_dir: Path | None = None) -> PackageSize:
    """Package the app for ``stage`` and weigh the zips (the function zip and Chalice's automatic layer).

    Uses the project's own packaging (``python -m infrastructure.package``: ``chalice package`` with the
    template adjusted for this app) when it exists; otherwise ``chalice package --pkg-format terraform`` on a
    copy of the project (CloudFormation output refuses the ``on_s3_event`` handler).
    """
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    result = PackageSize(ok=False, automatic_layer=bool(config.get("automatic_layer")))
    with tempfile.TemporaryDirectory(prefix="bench-package-") as tmp:
        out = Path(tmp) / "out"
        env = {"AWS_DEFAULT_REGION": "us-east-1", **os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        if (ROOT / "infrastructure" / "package.py").exists():
            command = [sys.executable, "-m", "infrastructure.package", "--stage", stage, "--out", str(out)]
            cwd = ROOT
            result.command = "python -m infrastructure.package --stage " + stage
        else:
            cwd = _project_copy(Path(tmp), config, result)
            command = [str(Path(sys.executable).with_name("chalice")), "package", "--pkg-format", "terraform"]
            command += ["--stage", stage, str(out)]
            result.command = "chalice package --pkg-format terraform --stage " + stage
        try:
            completed = subprocess.run(
                command, cwd=cwd, capture_output=True, text=True, timeout=PACKAGE_TIMEOUT_SECONDS, env=env
            )
        except subprocess.TimeoutExpired:
            result.error = f"packaging did not finish in {PACKAGE_TIMEOUT_SECONDS} s"
            return result
        output = completed.stdout + completed.stderr
        missing = re.findall(r"Could not install dependencies:\s*\n((?:\S+==\S+\n)+)", output)
        for block in missing:
            result.warnings += [f"Chalice could not find a Lambda-compatible wheel for {dep}" for dep in block.split()]
        if completed.returncode != 0:
            result.error = (output.strip().splitlines() or ["(no output)"])[-1][:300]
            return result
        function_zip = out / "deployment.zip"
        layer_zip = next((p for p in sorted(out.glob("*.zip")) if p.name != "deployment.zip"), out / "layer.zip")
        result.ok = function_zip.exists()
        for label, path in (("function", function_zip), ("layer", layer_zip)):
            if not path.exists():
                continue
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
            result.sources[label] = {
                ".py": sum(1 for n in names if n.endswith(".py")),
                ".pyc": sum(1 for n in names if n.endswith(".pyc")),
            }
            if label == "layer":
                tops = {n.split("/")[4] for n in names if n.startswith("python/lib/") and n.count("/") > 4}
                result.sdk_in_layer = sorted(tops & {"boto3", "botocore", "s3transfer"})
            if keep_dir is not None:
                keep_dir.mkdir(parents=True, exist_ok=True)
                result.kept[label] = str(shutil.copy2(path, keep_dir / path.name))
        if keep_dir is not None and (out / "sam.yaml").exists():
            result.kept["template"] = str(shutil.copy2(out / "sam.yaml", keep_dir / "sam.yaml"))
        result.function_zip_bytes = function_zip.stat().st_size if function_zip.exists() else None
        if layer_zip.exists():
            result.layer_zip_bytes = layer_zip.stat().st_size
            result.largest_in_layer = _largest_packages(layer_zip, 8)
        return result


def _project_copy(tmp: Path, config: dict[str, Any], result: PackageSize) -> Path:
    """A copy of what ``chalice package`` reads (the repository is never written to)."""
    project = tmp / "project"
    project.mkdir()
    shutil.copy2(ROOT / "app.py", project / "app.py")
    shutil.copy2(ROOT / "requirements.txt", project / "requirements.txt")
    shutil.copytree(ROOT / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".chalice", project / ".chalice", ignore=shutil.ignore_patterns("deployments", "deployed"))
    if not result.automatic_layer:
        config["automatic_layer"] = True
        result.warnings.append("automatic_layer was not set in .chalice/config.json: set in the copy")
    # Chalice's Terraform packaging refuses log retention settings (UnsupportedFeatureError); they do not
    # change what is zipped, so the copy goes without them.
    if _drop_log_retention(config):
        result.warnings.append(
            "`chalice package --pkg-format terraform` refuses `log_retention_in_days`: packaged without it"
        )
    (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    return project
