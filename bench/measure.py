"""Timing loops and percentiles: every request is prepared unmeasured, then timed alone with its botocore cost."""

from __future__ import annotations

import contextlib
import cProfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.machine import percentile
from bench.meter import Cost, Meter
from bench.operations import Harness, Measured, Operation
from dev import moto_patches


@dataclass
class Sample:
    """Latencies (ms) and costs of one operation at one data size."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    own_ms: list[float] = field(default_factory=list)  # latency minus moto's emulation time: the app's own
    # CPU time of the process during the request (all its threads), and the same minus moto's: what a busy shared
    # machine does not inflate (waiting for a core is not work), what a Lambda spends computing.
    cpu_ms: list[float] = field(default_factory=list)
    own_cpu_ms: list[float] = field(default_factory=list)
    costs: Counter[tuple[int, int, int, int]] = field(default_factory=Counter)
    example: Cost | None = None

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def own_p50(self) -> float:
        return percentile(self.own_ms, 50)

    @property
    def own_p99(self) -> float:
        return percentile(self.own_ms, 99)

    @property
    def cpu_p50(self) -> float:
        return percentile(self.cpu_ms, 50) if self.cpu_ms else 0.0

    @property
    def own_cpu_p50(self) -> float:
        return percentile(self.own_cpu_ms, 50) if self.own_cpu_ms else 0.0

    @property
    def cost(self) -> tuple[int, int, int, int]:
        """(round trips, items read, items written, posts) of the requests (the most common, if they varied)."""
        return self.costs.most_common(1)[0][0]

    @property
    def steady(self) -> bool:
        """Every repetition cost the same."""
        return len(self.costs) == 1

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n": len(self.latencies_ms),
            "p50_ms": round(self.p50, 3),
            "p99_ms": round(self.p99, 3),
            "own_p50_ms": round(self.own_p50, 3),
            "own_p99_ms": round(self.own_p99, 3),
            "cpu_p50_ms": round(self.cpu_p50, 3),
            "own_cpu_p50_ms": round(self.own_cpu_p50, 3),
            "round_trips": self.cost[0],
            "items_read": self.cost[1],
            "items_written": self.cost[2],
            "posts": self.cost[3],
            "steady": self.steady,
            "calls": self.example.describe() if self.example else "",
        }


def _timed(
    meter: Meter, measured: Measured, raw: bool, profiler: cProfile.Profile | None = None
) -> tuple[float, float, Cost]:
    meter.take()
    with moto_patches.raw_moto() if raw else contextlib.nullcontext():
        meter.active = True
        if profiler is not None:
            profiler.enable()
        started, cpu = time.perf_counter_ns(), time.process_time_ns()
        try:
            measured.call()
        finally:
            elapsed, cpu_elapsed = time.perf_counter_ns() - started, time.process_time_ns() - cpu
            if profiler is not None:
                profiler.disable()
            meter.active = False
    cost = meter.take()
    if measured.cleanup is not None:
        measured.cleanup()
    return elapsed / 1e6, cpu_elapsed / 1e6, cost


def run(
    harness: Harness,
    meter: Meter,
    name: str,
    prepare: Callable[[Harness], Measured],
    reps: int,
    warmup: int,
    raw: bool = False,
    profiler: cProfile.Profile | None = None,
) -> Sample:
    """``warmup`` unrecorded requests, then ``reps`` recorded ones. ``raw``: the timed request (only it) runs on
    moto as it ships, without ``dev.moto_patches``. The warm-up requests also check the patched response
    encoding against moto's own (``moto_patches.verifying_encoding``)."""
    sample = Sample(name)
    for index in range(warmup + reps):
        warming_up = index < warmup
        with moto_patches.verifying_encoding() if warming_up else contextlib.nullcontext():
            latency, cpu, cost = _timed(meter, prepare(harness), raw, None if warming_up else profiler)
        if index >= warmup:
            sample.latencies_ms.append(latency)
            sample.own_ms.append(max(latency - cost.moto_ms, 0.0))
            sample.cpu_ms.append(cpu)
            sample.own_cpu_ms.append(max(cpu - cost.moto_cpu_ms, 0.0))
            sample.costs[cost.signature()] += 1
            sample.example = sample.example or cost
    return sample


def run_operation(
    harness: Harness,
    meter: Meter,
    operation: Operation,
    reps: int,
    warmup: int,
    raw: bool = False,
    profiler: cProfile.Profile | None = None,
) -> Sample:
    """One operation with its own setup and teardown (connections it needs, opened and closed unmeasured)."""
    if operation.setup is not None:
        operation.setup(harness)
    try:
        return run(harness, meter, operation.name, operation.prepare, reps, warmup, raw, profiler)
    finally:
        if operation.teardown is not None:
            operation.teardown(harness)


def run_floor(
    harness: Harness, meter: Meter, reps: int, warmup: int, profiler: cProfile.Profile | None = None
) -> Sample:
    return run(
        harness, meter, "floor: bare handler, one GetItem", lambda h: Measured(h.floor_call), reps, warmup,
        profiler=profiler,
    )  # fmt: skip
