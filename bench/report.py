"""Markdown for ``bench/RESULTS.md``: each benchmark rewrites only its own marked section of the file."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import cost
from bench.cold_start import IMPORT_TARGET as LAMBDA_IMPORT_TARGET
from bench.cold_start import ColdStarts
from bench.deploy_size import ColdStart, PackageSize
from bench.measure import Sample
from bench.stack_bench import RATIO_TARGET as STACK_RATIO_TARGET
from bench.stack_bench import StackResults

RATIO_TARGET = 3.0
IMPORT_TARGET = 1.5
ZIP_TARGET_BYTES = 5 * 1024 * 1024


@dataclass
class Level:
    """One data size: what was seeded and what every operation cost on it."""

    label: str
    conversations: int
    messages: int
    seeded_items: int
    seeded_s: float
    floor: Sample | None = None
    floor_after: Sample | None = None
    raw_floor: Sample | None = None
    samples: dict[str, Sample] = field(default_factory=dict)
    raw: dict[str, Sample] = field(default_factory=dict)
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)  # operation -> layer -> share of time
    cost_samples: dict[str, Sample] = field(default_factory=dict)  # COST_OPERATIONS, timed at the last size

    @property
    def floor_p50(self) -> float:
        """The floor of this size: the median of the runs before and after the operations."""
        assert self.floor is not None
        values = self.floor.latencies_ms + (self.floor_after.latencies_ms if self.floor_after else [])
        return Sample("floor", values).p50

    @property
    def floor_own_p50(self) -> float:
        assert self.floor is not None
        values = self.floor.own_ms + (self.floor_after.own_ms if self.floor_after else [])
        return Sample("floor", own_ms=values, latencies_ms=values).own_p50

    def ratio(self, name: str) -> float:
        return self.samples[name].p50 / self.floor_p50

    def own_ratio(self, name: str) -> float:
        return self.samples[name].own_p50 / self.floor_own_p50

    @property
    def floor_cpu_p50(self) -> float:
        assert self.floor is not None
        values = self.floor.cpu_ms + (self.floor_after.cpu_ms if self.floor_after else [])
        return Sample("floor", values).p50 if values else 0.0

    def cpu_ratio(self, name: str) -> float:
        floor = self.floor_cpu_p50
        return self.samples[name].cpu_p50 / floor if floor else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "conversations": self.conversations,
            "messages": self.messages,
            "seeded_items": self.seeded_items,
            "seeded_s": round(self.seeded_s, 1),
            "floor_p50_ms": round(self.floor_p50, 3),
            "floor_own_p50_ms": round(self.floor_own_p50, 3),
            "floor_cpu_p50_ms": round(self.floor_cpu_p50, 3),
            "floor": self.floor.to_json() if self.floor else None,
            "raw_floor": self.raw_floor.to_json() if self.raw_floor else None,
            "operations": {
                name: {**s.to_json(), "ratio": round(self.ratio(name), 2), "own_ratio": round(self.own_ratio(name), 2)}
                for name, s in self.samples.items()
            },
            "raw": {name: s.to_json() for name, s in self.raw.items()},
            "profiles": {name: {k: round(v, 4) for k, v in p.items()} for name, p in self.profiles.items()},
            "cost_operations": {name: s.to_json() for name, s in self.cost_samples.items()},
        }


def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1024 / 1024:.2f} MB"


def _per_size(levels: list[Level], value: Any) -> str:
    values = [value(level) for level in levels]
    return " / ".join(str(v) for v in values) if len(set(map(str, values))) > 1 else f"{values[0]} (all)"


def _cost_table(levels: list[Level]) -> list[str]:
    first, last = levels[0], levels[-1]
    lines = [
        "| operation | DynamoDB calls | round trips | growth | items read | items written | frames posted "
        "| same every run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    floor = first.floor
    if floor is not None:
        lines.append(
            f"| *floor* | {floor.example.describe() if floor.example else ''} | 1 (all) | 1.0 | 1 | 0 | 0 | yes |"
        )
    for name, sample in first.samples.items():
        growth = last.samples[name].cost[0] / sample.cost[0] if sample.cost[0] else 1.0
        steady = all(level.samples[name].steady for level in levels)
        lines.append(
            f"| {name} | {sample.example.describe() if sample.example else ''} "
            f"| {_per_size(levels, lambda lv, n=name: lv.samples[n].cost[0])} | {growth:.1f} "
            f"| {_per_size(levels, lambda lv, n=name: lv.samples[n].cost[1])} "
            f"| {_per_size(levels, lambda lv, n=name: lv.samples[n].cost[2])} "
            f"| {_per_size(levels, lambda lv, n=name: lv.samples[n].cost[3])} | {'yes' if steady else 'NO'} |"
        )
    return lines


def _latency_table(levels: list[Level]) -> list[str]:
    labels = [level.label for level in levels]
    header = (
        "| operation | "
        + " | ".join(f"p50 {label}" for label in labels)
        + " | "
        + " | ".join(f"p99 {label}" for label in labels)
        + " | "
        + " | ".join(f"ratio {label}" for label in labels)
        + f" | app-only ratio {labels[-1]} | "
        + " | ".join(f"CPU p50 {label}" for label in labels)
        + f" | CPU ratio {labels[-1]} |"
    )
    lines = [header, "|---" * (4 * len(levels) + 3) + "|"]
    floor_p99 = [
        Sample(
            "f", (lv.floor.latencies_ms if lv.floor else []) + (lv.floor_after.latencies_ms if lv.floor_after else [])
        ).p99
        for lv in levels
    ]
    lines.append(
        "| *floor* | "
        + " | ".join(_ms(lv.floor_p50) for lv in levels)
        + " | "
        + " | ".join(_ms(v) for v in floor_p99)
        + " | "
        + " | ".join("1.0" for _ in levels)
        + " | 1.0 | "
        + " | ".join(_ms(lv.floor_cpu_p50) for lv in levels)
        + " | 1.0 |"
    )
    for name in levels[0].samples:
        ratios = [level.ratio(name) for level in levels]
        cpu_ratio = levels[-1].cpu_ratio(name)
        lines.append(
            f"| {name} | "
            + " | ".join(_ms(level.samples[name].p50) for level in levels)
            + " | "
            + " | ".join(_ms(level.samples[name].p99) for level in levels)
            + " | "
            + " | ".join(f"**{r:.1f}**" if r > RATIO_TARGET else f"{r:.1f}" for r in ratios)
            + f" | {levels[-1].own_ratio(name):.1f} | "
            + " | ".join(_ms(level.samples[name].cpu_p50) for level in levels)
            + " | "
            + (f"**{cpu_ratio:.1f}**" if cpu_ratio > RATIO_TARGET else f"{cpu_ratio:.1f}")
            + " |"
        )
    return lines


def _raw_table(levels: list[Level]) -> list[str]:
    measured = [level for level in levels if level.raw]
    if not measured:
        return ["(not measured: `--raw-reps 0`)"]
    lines = [
        "| operation | "
        + " | ".join(f"raw p50 {lv.label} (n={next(iter(lv.raw.values())).latencies_ms.__len__()})" for lv in measured)
        + " | "
        + " | ".join(f"raw ratio {lv.label}" for lv in measured)
        + f" | raw {measured[-1].label} ÷ raw {measured[0].label} | raw ÷ patched, {measured[-1].label} |",
        "|---" * (2 * len(measured) + 3) + "|",
    ]
    lines.append(
        "| *floor* | "
        + " | ".join(_ms(lv.raw_floor.p50) if lv.raw_floor else "-" for lv in measured)
        + " | "
        + " | ".join("1.0" for _ in measured)
        + " | "
        + (
            f"{measured[-1].raw_floor.p50 / measured[0].raw_floor.p50:.1f}"
            if measured[-1].raw_floor and measured[0].raw_floor
            else "-"
        )
        + " | - |"
    )
    for name in measured[0].raw:
        growth = measured[-1].raw[name].p50 / measured[0].raw[name].p50
        versus = measured[-1].raw[name].p50 / measured[-1].samples[name].p50
        lines.append(
            f"| {name} | "
            + " | ".join(_ms(lv.raw[name].p50) for lv in measured)
            + " | "
            + " | ".join(f"{lv.raw[name].p50 / lv.raw_floor.p50:.1f}" if lv.raw_floor else "-" for lv in measured)
            + f" | {growth:.1f} | {versus:.1f} |"
        )
    same = sum(1 for name in measured[0].raw if all(lv.raw[name].cost == lv.samples[name].cost for lv in measured))
    lines += [
        "",
        f"Round trips, items read and written and frames posted of these requests: identical to the patched run "
        f"for {same}/{len(measured[0].raw)} operations at every size.",
    ]
    return lines


def _profile_table(levels: list[Level]) -> list[str]:
    level = levels[-1]
    if not level.profiles:
        return ["(not profiled: `--profile-reps 0`)"]
    layers = ["moto", "AWS SDK", "pydantic", "chalice", "jwt", "app", "other"]
    lines = [
        f"Size {level.label}, cProfile over the timed requests only; library and built-in time charged to the "
        "layer that called it (`bench/profile.py`). Profiling inflates times, so only the shares are shown.",
        "",
        "| operation | " + " | ".join(layers) + " |",
        "|---" * (len(layers) + 1) + "|",
    ]
    for name, shares in level.profiles.items():
        lines.append(f"| {name} | " + " | ".join(f"{100 * shares.get(layer, 0.0):.0f} %" for layer in layers) + " |")
    return lines


def _cold_start(cold: ColdStart | None) -> list[str]:
    if cold is None:
        return ["(not measured: `--skip-cold-start`)"]
    verdict = "met" if cold.ratio <= IMPORT_TARGET else "**missed**"
    heaviest = ", ".join(f"{name} {ms:.0f} ms" for name, ms in cold.heaviest)
    return [
        "| import (fresh interpreter, bytecode cached) | CPU median (ms) | CPU runs (ms) | wall median (ms) |",
        "|---|---|---|---|",
        f"| `import chalice, boto3` (baseline) | {cold.baseline_median * 1000:.0f} | "
        + ", ".join(f"{s * 1000:.0f}" for s in cold.baseline_s)
        + f" | {statistics.median(cold.baseline_wall_s) * 1000:.0f} |",
        f"| `import app` (the Lambda entry module) | {cold.app_median * 1000:.0f} | "
        + ", ".join(f"{s * 1000:.0f}" for s in cold.app_s)
        + f" | {statistics.median(cold.app_wall_s) * 1000:.0f} |",
        *(
            [
                f"| `import app, jwt` (what the REST and `$connect` functions hold after their first token check; "
                f"the others never import PyJWT) | {statistics.median(cold.app_jwt_s) * 1000:.0f} | "
                + ", ".join(f"{s * 1000:.0f}" for s in cold.app_jwt_s)
                + f" | {statistics.median(cold.app_jwt_wall_s) * 1000:.0f} |"
            ]
            if cold.app_jwt_s
            else []
        ),
        "",
        f"Ratio **{cold.ratio:.2f}x** the baseline in CPU time (target <= {IMPORT_TARGET}x: {verdict}); wall time, "
        f"which also counts waiting for a core on this shared machine: "
        f"{statistics.median(cold.app_wall_s) / statistics.median(cold.baseline_wall_s):.2f}x. "
        f"What `import app` adds to the baseline (`python -X importtime`, one run each, wall ms: the own time of every "
        f"module the baseline does not import, per package): {heaviest}.",
        "",
    ]


def _package(package: PackageSize | None) -> list[str]:
    if package is None:
        return ["(not measured: `--skip-package`)"]
    lines = []
    if package.error:
        lines.append(f"`chalice package` failed: {package.error}")
    verdict = (
        "-"
        if package.function_zip_bytes is None
        else ("met" if package.function_zip_bytes <= ZIP_TARGET_BYTES else "**missed**")
    )
    lines += [
        f"Packaged with `{package.command}`.",
        "",
        "| zip | size | target ≤ 5 MB |",
        "|---|---|---|",
        f"| function (`deployment.zip`: app.py + chalicelib) | {_mb(package.function_zip_bytes)} | {verdict} |",
        f"| automatic layer (requirements.txt) | {_mb(package.layer_zip_bytes)} | (Lambda's limit: 250 MB unzipped) |",
    ]
    if package.largest_in_layer:
        lines.append("")
        lines.append(
            "Largest in the layer (compressed): "
            + ", ".join(f"{name} {size / 1024 / 1024:.1f} MB" for name, size in package.largest_in_layer)
            + "."
        )
    for label, counts in package.sources.items():
        lines.append(f"- {label} zip: {counts['.py']:,} `.py` files, {counts['.pyc']:,} `.pyc`")
    for warning in package.warnings:
        lines.append(f"- {warning}")
    return lines


def _targets(
    levels: list[Level],
    cold: ColdStart | None,
    package: PackageSize | None,
    starts: ColdStarts | None = None,
    stack: StackResults | None = None,
) -> list[str]:
    first, last = levels[0], levels[-1]
    constant = [n for n in first.samples if first.samples[n].cost[0] == last.samples[n].cost[0]]
    items_same = [n for n in first.samples if all(lv.samples[n].cost == first.samples[n].cost for lv in levels)]
    within = [n for n in last.samples if last.ratio(n) <= RATIO_TARGET]
    within_cpu = [n for n in last.samples if last.cpu_ratio(n) <= RATIO_TARGET]
    missed = [f"{n} {last.ratio(n):.1f}" for n in last.samples if last.ratio(n) > RATIO_TARGET]
    total = len(first.samples)
    lines = [
        "| target | result | verdict |",
        "|---|---|---|",
        f"| round trips identical at every size (growth 1.0) | {len(constant)}/{total} operations | "
        + ("met" if len(constant) == total else "**missed**")
        + " |",
        f"| items read and written identical at every size | {len(items_same)}/{total} operations | "
        + ("met" if len(items_same) == total else "**missed**")
        + " |",
        f"| operation/floor p50 ratio ≤ {RATIO_TARGET:.0f} (size {last.label}) | {len(within)}/{total} within; over: "
        + (", ".join(missed) or "none")
        + f" (in CPU time, which a busy machine does not inflate: {len(within_cpu)}/{total} within)"
        + " | "
        + ("met" if len(within) == total else "**missed**")
        + " |",
    ]
    if cold is not None:
        lines.append(
            f"| import time ≤ {IMPORT_TARGET}x `chalice + boto3` | {cold.ratio:.2f}x | "
            + ("met" if cold.ratio <= IMPORT_TARGET else "**missed**")
            + " |"
        )
    if package is not None and package.function_zip_bytes is not None:
        lines.append(
            f"| zip ≤ 5 MB | function {_mb(package.function_zip_bytes)}, layer {_mb(package.layer_zip_bytes)} | "
            + ("met" if package.function_zip_bytes <= ZIP_TARGET_BYTES else "**missed**")
            + " (function zip) |"
        )
        compiled = all(c[".pyc"] >= c[".py"] > 0 for c in package.sources.values())
        lean = compiled and not package.sdk_in_layer
        counts = ", ".join(f"{zip_} {c['.pyc']:,} `.pyc` for {c['.py']:,} `.py`" for zip_, c in package.sources.items())
        sdk = ", ".join(package.sdk_in_layer) or "no boto3/botocore/s3transfer in the layer"
        lines.append(f"| bytecode for every module, no SDK in the layer | {counts}; {sdk} | {_met(lean)} |")
    if stack is not None and stack.p50_ms:
        worst = max(stack.p50_ms, key=stack.ratio)
        ratios = ", ".join(f"{op} {stack.ratio(op):.2f}" for op in stack.p50_ms)
        lines.append(
            f"| through `make dev`: large/small p50 ≤ {STACK_RATIO_TARGET} per operation | {ratios} (worst: {worst}) | "
            f"{_met(all(stack.ratio(op) <= STACK_RATIO_TARGET for op in stack.p50_ms))} |"
        )
    elif stack is not None:
        lines.append(
            f"| through `make dev`: large/small p50 ≤ {STACK_RATIO_TARGET} | not measured: {stack.error} | - |"
        )
    if starts is not None and starts.bare is not None and starts.functions:
        ratios = {f.name: starts.ratio(f) for f in starts.functions}
        lines.append(
            f"| as Lambda runs the package: `import app` ≤ {LAMBDA_IMPORT_TARGET}x a bare Chalice app | "
            + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items())
            + f" (bare app {starts.bare.median('after'):.0f} ms) | "
            + f"{_met(all(r <= LAMBDA_IMPORT_TARGET for r in ratios.values()))} |"
        )
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _stack(stack: StackResults | None) -> list[str]:
    if stack is None:
        return ["(not measured: `--skip-stack`)"]
    if not stack.p50_ms:
        return [f"(not measured: {stack.error})"]
    small, large = stack.sizes
    lines = [
        f"Two `python -m dev.stack` processes side by side, seeded by `DEV_SEED=large`: **{small.label}** "
        f"({small.conversations:,} conversations for alice, {small.messages:,} messages in her chat with bob) and "
        f"**{large.label}** ({large.conversations:,} / {large.messages:,}). {stack.reps} timed rounds of send, list, "
        "detail and sync in turn (every read follows a write), one request at a time over HTTP, alternating "
        "between the stacks (`bench/stack_bench.py`).",
        "",
        "| operation | items returned | p50 small (ms) | p50 large (ms) | p99 small | p99 large | large ÷ small |",
        "|---|---|---|---|---|---|---|",
    ]
    for op, values in stack.p50_ms.items():
        ratio = stack.ratio(op)
        shown = f"**{ratio:.2f}**" if ratio > STACK_RATIO_TARGET else f"{ratio:.2f}"
        pages = stack.page_sizes.get(op, {})
        lines.append(
            f"| {op} | {pages.get(small.label, '-')} / {pages.get(large.label, '-')} | {values[small.label]:.1f} | "
            f"{values[large.label]:.1f} | {stack.p99_ms[op][small.label]:.1f} | {stack.p99_ms[op][large.label]:.1f} "
            f"| {shown} |"
        )
    lines.append("")
    for label, seeded in stack.seeded.items():
        after_seed = seeded.get("memory_after_seed", {}).get("rss_mb")
        after_run = seeded.get("memory_after_run", {}).get("rss_mb")
        lines.append(
            f"- **{label}**: {seeded.get('items', 0):,} items seeded in {seeded.get('seconds', 0):.1f} s "
            f"({seeded.get('cpuSeconds', 0):.1f} s of the stack's CPU; ready "
            f"{seeded.get('ready_s', 0):.0f} s after launch); resident memory {after_seed or 0:,.0f} MB after the "
            f"seed, {after_run or 0:,.0f} MB after the run; exit code {seeded.get('exit_code')}, tracebacks "
            f"{seeded.get('tracebacks')}"
        )
    return lines


def _lambda_cold_starts(starts: ColdStarts | None) -> list[str]:
    if starts is None:
        return ["(not measured: `--skip-package` or `--skip-cold-start`)"]
    if starts.error or starts.bare is None:
        return [f"(not measured: {starts.error})"]
    bare = starts.bare
    lines = [
        "| function | handler | memory | init before (ms CPU) | modules compiled at init, before | init after "
        "(ms CPU) | compiled, after | after ÷ bare app | first request's imports, after (ms CPU) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in starts.functions:
        ratio = starts.ratio(f)
        shown = f"**{ratio:.2f}x**" if ratio > LAMBDA_IMPORT_TARGET else f"{ratio:.2f}x"
        lines.append(
            f"| {f.name} | `{f.handler}` | {f.memory_mb} MB | {f.median('before'):.0f} | {f.compiled.get('before', 0)} "
            f"| {f.median('after'):.0f} | {f.compiled.get('after', 0)} | {shown} | {f.first_use('after'):.0f} |"
        )
    lines.append(
        f"| *bare Chalice app* | `{bare.handler}` | - | {bare.median('before'):.0f} | {bare.compiled.get('before', 0)} "
        f"| {bare.median('after'):.0f} | {bare.compiled.get('after', 0)} | 1.00x | - |"
    )
    sizes = "; ".join(
        f"{state}: " + ", ".join(f"{name} {size / 1024 / 1024:.2f} MB" for name, size in zips.items())
        for state, zips in starts.sizes.items()
    )
    lines += [
        "",
        f"Medians of {starts.runs} fresh interpreters per row, round-robin. Zips: {sizes}.",
        "",
        "What each function's init imports beyond the bare app's, *after* (`python -X importtime` in one more fresh "
        "interpreter per row, untimed: the own time of every module the bare app does not import, per package, the "
        "app's per layer; ms of wall time, which importtime's bookkeeping inflates a little):",
        "",
    ]
    for f in starts.functions:
        added = starts.added(f, top=None)
        total = sum(ms for _, ms in added)
        shown = ", ".join(f"{name} {ms:.0f}" for name, ms in added[:6]) or "nothing"
        lines.append(f"- {f.name}: {total:.0f} ms in all; {shown}")
    return lines


def _cost_operations(level: Level) -> list[str]:
    if not level.cost_samples:
        return ["(not measured)"]
    lines = [
        "| operation | DynamoDB calls | round trips | frames posted | p50 (ms) | p99 (ms) | app-only p50 (ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, sample in level.cost_samples.items():
        lines.append(
            f"| {name} | {sample.example.describe() if sample.example else ''} | {sample.cost[0]} | {sample.cost[3]} "
            f"| {_ms(sample.p50)} | {_ms(sample.p99)} | {_ms(sample.own_p50)} |"
        )
    return lines


def render(
    levels: list[Level],
    cold: ColdStart | None,
    package: PackageSize | None,
    info: dict[str, Any],
    *,
    starts: ColdStarts | None = None,
    stack: StackResults | None = None,
    bill: cost.Bill | None = None,
    search: dict[str, Any] | None = None,
) -> str:
    """The ``make bench`` section of RESULTS.md (``search``: ``bench.search_index``'s measurement, for the
    asynchronous path's search row)."""
    m = info["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    sizes = "; ".join(
        f"**{lv.label}**: {lv.conversations:,} conversations, {lv.messages:,} messages "
        f"({lv.seeded_items:,} items seeded in {lv.seeded_s:.0f} s)"
        for lv in levels
    )
    reps = info["args"]
    lines = [
        "## `make bench` (in-process, moto)",
        "",
        f"- **Date** {info['date']}; **command** `{info['command']}` ({info['elapsed_s']} s in all)",
        f"- **Machine** {m['cpu']}, {m['cores']} cores, {m['memory']}; {m['os']}; Python {m['python']}; {versions}; "
        f"load average {info['load'][0]} at the start, {info['load'][1]} at the end (other work shares this "
        "machine: latencies are noisy, ratios taken within one run much less so)",
        f"- **Sizes** (alice's inbox, the alice-bob pattern chat): {sizes}",
        f"- **Repetitions** {reps['reps']} timed requests per operation and size after {reps['warmup']} untimed; "
        f"floor {reps['floor_reps']} before and {reps['floor_reps']} after the operations; unpatched moto: "
        f"{reps['raw_reps']} per size (S,M,L)",
        f"- **moto patch self-check**: {'; '.join(info['self_check'])}",
        "- **Response encoding check**: responses encoded directly and by moto's serializer, compared identical: "
        + ", ".join(f"{op} {n:,}" for op, n in sorted(info.get("encoding_verified", {}).items())),
        "",
        "### Targets",
        "",
        *_targets(levels, cold, package, starts, stack),
        "",
        "### What each request costs (counted from botocore)",
        "",
        "Round trips and items per request at each size (S / M / L; `(all)` when equal everywhere). Items read: "
        "`Items` of a Query, `Responses` of a BatchGetItem, `Item` of a GetItem; written: the Put/Update/Delete "
        "actions of a TransactWriteItems and single writes. Frames: PostToConnection calls.",
        "",
        *_cost_table(levels),
        "",
        "### Latency (ms) and ratio to the floor",
        "",
        "With `dev/moto_patches.py` (moto's cost per request made independent of table size, as DynamoDB's is, "
        "and responses encoded without moto's per-value shape walk). "
        "Ratio: operation p50 ÷ floor p50 of the same size (bold: over the target of 3). App-only ratio: the same "
        "with the time spent inside moto's emulation (request parsing, the emulated operation, response "
        "serialization: DynamoDB's work on AWS, not the Lambda's) taken out of both. CPU: the process's CPU time "
        "during the request (all threads), which waiting for a core on a busy machine does not inflate; its ratio "
        "to the floor's CPU time.",
        "",
        *_latency_table(levels),
        "",
        "### Where the time goes (profile by layer)",
        "",
        *_profile_table(levels),
        "",
        "### The same requests on moto as it ships (no patch)",
        "",
        "moto copies every table a transaction touches and walks whole tables for a Query, so its time grows with "
        "the data even though the requests do not (same round trips and items as above); it also encodes each "
        "response by walking botocore's shape model per attribute value.",
        "",
        *_raw_table(levels),
        "",
        "### Cold start",
        "",
        *_cold_start(cold),
        "",
        "### Deployment package",
        "",
        *_package(package),
        "",
        "### Cold start as Lambda runs each function",
        "",
        "Each function's handler imported from the packaged zips laid out as Lambda does (function code, then the "
        "layer, then the runtime's compiled boto3; read-only; bytecode writing off; a fresh interpreter with nothing "
        "of this environment; `infrastructure/lambda_layout.py`), CPU time of `import app` and the handler lookup "
        "(Lambda's init phase), *before* (the zips as Chalice makes them) and *after* (as `make package` and `make "
        "deploy` ship them: `infrastructure/lambda_zips.py`), against a bare Chalice app packaged the same two ways "
        "(`bench/cold_start.py`).",
        "",
        *_lambda_cold_starts(starts),
        "",
        "### Through the stack (`make dev` over HTTP)",
        "",
        *_stack(stack),
        "",
        "### What it costs to run",
        "",
        # The asynchronous path's table is its own section of RESULTS.md (bench/run.py): not twice.
        *(cost.render(bill, search=search, async_path=False) if bill is not None else ["(not computed)"]),
        "",
        "The asynchronous path after a send (search indexing, digests, webhooks, Web Push) is costed in its own "
        "section below.",
        "",
        f"The operations only the cost model uses, timed at size {levels[-1].label} like the others:",
        "",
        *_cost_operations(levels[-1]),
        "",
    ]
    return "\n".join(lines)


PREAMBLE = """# Benchmarks

What users of crochet-messaging pay for (DynamoDB round trips, items read and written, frames sent) and wait
for (latency), measured by `make bench` (in-process on moto, `bench/run.py`) and `make bench-load` (the local
stack with real WebSocket clients, `bench/load.py`). Each command rewrites only its own section below; the
analysis at the end is written by hand from these numbers. Benchmarks assert nothing: tests never time anything.
"""

START, END = "<!-- {name}:start -->", "<!-- {name}:end -->"


def write_section(path: Path, name: str, body: str, preamble: str) -> None:
    """Replace the ``name`` section of ``path`` (created with ``preamble`` if missing), keeping the rest."""
    start, end = START.format(name=name), END.format(name=name)
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else preamble
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text if text.endswith("\n") else text + "\n")
