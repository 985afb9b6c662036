"""Where a request's time goes, by layer: cProfile over repeated requests, time attributed to packages.

The standard library and built-ins (``json``, ``copy``, ``dict.get`` …) have no layer of their own: their time is
charged to whoever called them, following cProfile's caller records up to the first frame that has one. Layers:
moto (the emulated AWS, including the werkzeug request parsing it uses), the AWS SDK on the client side
(botocore, boto3, PynamoDB, urllib3, jmespath, dateutil), pydantic, Chalice, PyJWT, the app (``chalicelib``,
``app.py``), and the benchmark harness itself.
"""

from __future__ import annotations

import cProfile
import pstats
from collections import Counter
from typing import Any

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("moto", ("/moto/", "/werkzeug/", "/responses/", "/py_partiql_parser/", "/xmltodict")),
    ("AWS SDK", ("/botocore/", "/boto3/", "/pynamodb/", "/urllib3/", "/jmespath/", "/dateutil/", "/s3transfer/")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("chalice", ("/chalice/",)),
    ("jwt", ("/jwt/", "/cryptography/")),
    ("app", ("/chalicelib/", "/app.py")),
    ("harness", ("/bench/",)),
)
UNATTRIBUTED = "other"
_MAX_DEPTH = 12

FunctionKey = tuple[str, int, str]


def _layer(filename: str) -> str | None:
    for name, markers in LAYERS:
        if any(marker in filename for marker in markers):
            return name
    return None


def breakdown(stats: pstats.Stats) -> dict[str, float]:
    """Seconds per layer (tottime, with library time charged to the calling layer)."""
    raw: dict[FunctionKey, Any] = stats.stats  # type: ignore[attr-defined]
    totals: Counter[str] = Counter()
    memo: dict[FunctionKey, dict[str, float]] = {}

    def shares(function: FunctionKey, depth: int) -> dict[str, float]:
        """How a unit of ``function``'s own time splits over layers (fractions summing to 1)."""
        layer = _layer(function[0])
        if layer is not None:
            return {layer: 1.0}
        if function in memo:
            return memo[function]
        memo[function] = {UNATTRIBUTED: 1.0}  # cycle guard
        callers = raw.get(function, (0, 0, 0, 0, {}))[4]
        weights = {caller: timing[2] for caller, timing in callers.items() if timing[2] > 0}
        if not weights:
            weights = {caller: float(timing[1]) for caller, timing in callers.items()}
        total = sum(weights.values())
        if depth >= _MAX_DEPTH or total <= 0:
            return memo[function]
        result: Counter[str] = Counter()
        for caller, weight in weights.items():
            for layer_name, fraction in shares(caller, depth + 1).items():
                result[layer_name] += fraction * weight / total
        memo[function] = dict(result)
        return memo[function]

    for function, (_, _, tottime, _, _) in raw.items():
        for layer_name, fraction in shares(function, 0).items():
            totals[layer_name] += tottime * fraction
    return dict(totals)


def shares(profiler: cProfile.Profile) -> dict[str, float]:
    """The share of each layer in what ``profiler`` recorded (fractions of the profiled time, harness left out)."""
    seconds = breakdown(pstats.Stats(profiler))
    seconds.pop("harness", None)
    total = sum(seconds.values()) or 1.0
    return {layer: value / total for layer, value in sorted(seconds.items(), key=lambda item: -item[1])}
