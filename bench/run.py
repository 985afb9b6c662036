"""``make bench``: what each operation costs at three data sizes, against a floor; the same through ``make dev``'s
stack at small and large data; cold start as Lambda runs each function; zip size; and what it all costs a month.

Usage: ``python -m bench.run [--reps N] [--raw-reps S,M,L] [--sizes C:M,C:M,C:M] [--skip-package]
[--skip-cold-start] [--skip-stack] [--no-write]`` (``--help`` lists all). Writes its section of ``bench/RESULTS.md``
and ``bench/out/results.json`` (the packaged zips stay in ``bench/out/package/``) and prints the same tables.

In-process: the app under ``chalice.test.Client`` on moto's ``mock_aws`` (as the integration tests run it).
For each size the data is grown (bulk-written, see ``bench/seed.py``), then every operation is timed ``--reps``
times with its DynamoDB round trips and items counted from botocore, next to the floor (a bare handler doing one
GetItem on the same moto). Latencies are measured with ``dev/moto_patches.py`` (moto's per-request cost made
independent of table size, as DynamoDB's is); a second, shorter pass times the same requests on moto as it
ships, so both are reported. The last size is also profiled by layer (``bench/profile.py``), and every operation
is priced there (request units, S3 requests, frames, bytes; ``bench/cost.py``). Then: two dev stacks over HTTP
(``bench/stack_bench.py``), import time of the Lambda entry module against ``import chalice, boto3``, the packaged
zips, every function's init as Lambda runs the package before and after the zip rewrite against a bare app
(``bench/cold_start.py``), and the monthly bill of a usage profile. About 12 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

# bench.environment first: it sets the environment chalicelib reads when it is imported (by the modules below).
from bench import (
    cold_start,
    cost,
    environment,  # noqa: F401
    stack_bench,
)
from bench.deploy_size import ColdStart, PackageSize, measure_cold_start, measure_package
from bench.machine import machine
from bench.measure import Sample, run_floor, run_operation
from bench.meter import Meter
from bench.operations import COST_OPERATIONS, OPERATIONS, Harness, clear_frames
from bench.profile import shares as profile_shares
from bench.report import PREAMBLE, Level, render, write_section
from dev import moto_patches

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
OUT = ROOT / "bench" / "out"


@dataclass(frozen=True)
class Size:
    label: str
    conversations: int
    messages: int


SIZES = (Size("S", 25, 100), Size("M", 1_000, 10_000), Size("L", 10_000, 100_000))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=100, help="timed requests per operation and size (default 100)")
    parser.add_argument("--floor-reps", type=int, default=300, help="timed floor requests per size (default 300)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    parser.add_argument(
        "--raw-reps",
        default="5,3,1",
        help="timed requests per operation on unpatched moto, per size (default 5,3,1; 0 skips that size)",
    )
    parser.add_argument(
        "--sizes",
        default=",".join(f"{s.conversations}:{s.messages}" for s in SIZES),
        help="conversations:messages per size, comma-separated (default 25:100,1000:10000,10000:100000)",
    )
    parser.add_argument(
        "--profile-reps", type=int, default=20, help="profiled requests per operation at the last size (20; 0: none)"
    )
    parser.add_argument("--cold-start-runs", type=int, default=7, help="fresh interpreters per import (default 7)")
    parser.add_argument("--cost-reps", type=int, default=20, help="timed requests per cost-only operation (20)")
    parser.add_argument("--stack-reps", type=int, default=100, help="timed requests per operation and stack (100)")
    parser.add_argument("--skip-stack", action="store_true", help="do not run the two dev stacks")
    parser.add_argument(
        "--skip-package", action="store_true", help="do not package the app (and skip the Lambda-layout cold start)"
    )
    parser.add_argument("--skip-cold-start", action="store_true", help="do not measure import times")
    parser.add_argument("--no-write", action="store_true", help="print only; leave bench/RESULTS.md alone")
    return parser.parse_args(argv)


def _sizes(spec: str) -> list[Size]:
    sizes = []
    for label, part in zip("SML" + "X" * 10, spec.split(","), strict=False):
        conversations, messages = (int(x) for x in part.split(":"))
        sizes.append(Size(label, conversations, messages))
    return sizes


class _LogSink:
    """Where the app's log lines go: nowhere, counted (CloudWatch Logs bills them by the byte)."""

    def __init__(self, meter: Meter) -> None:
        self._meter = meter

    def write(self, text: str) -> int:
        self._meter.note_log(len(text.encode("utf-8")))
        return len(text)

    def flush(self) -> None:
        pass


def _quiet_app_logs(meter: Meter) -> None:
    """The app logs one JSON line per request: still formatted (its cost is real), written nowhere but counted."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_LogSink(meter))  # type: ignore[arg-type]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _units(name: str, priced: Sample, own_ms: float) -> cost.Units:
    """What ``bench/cost.py`` needs of one operation: the priced request's counts, the timed requests' own time."""
    example = priced.example
    assert example is not None
    return cost.Units(
        name=name,
        round_trips=example.round_trips,
        transactions=example.transactions,
        s3_calls=example.s3_calls,
        read_units=round(example.read_units, 2),
        write_units=round(example.write_units, 2),
        s3_put=example.s3.get("put", 0),
        s3_get=example.s3.get("get", 0),
        posts=example.posts,
        post_bytes=list(example.post_bytes),
        client_frames=list(example.client_frames),
        invocations=dict(example.invocations),
        response_bytes=example.response_bytes,
        log_bytes=example.log_bytes,
        stored_bytes=dict(example.stored_bytes),
        stored_items=dict(example.stored_items),
        own_ms=round(own_ms, 3),
    )


def measure_costs(harness: Harness, meter: Meter, level: Level, args: argparse.Namespace) -> dict[str, cost.Units]:
    """At the last size: time the cost-only operations, then price every operation (untimed: reading moto's items
    around each write, to bill them, takes time of its own)."""
    # CPU time, moto's taken out: what the app computes (waiting for a core on this shared machine is not).
    timed = {name: sample.own_cpu_p50 for name, sample in level.samples.items()}
    for operation in COST_OPERATIONS:
        sample = run_operation(harness, meter, operation, args.cost_reps, 2)
        level.cost_samples[operation.name] = sample
        timed[operation.name] = sample.own_cpu_p50
        _say(f"[{level.label}] {operation.name}: p50 {sample.p50:.2f} ms")
    meter.capacity = True
    try:
        priced = {op.name: run_operation(harness, meter, op, 1, 1) for op in [*OPERATIONS, *COST_OPERATIONS]}
    finally:
        meter.capacity = False
    units = {name: _units(name, sample, timed[name]) for name, sample in priced.items()}
    units["photo upload request"].client_upload_bytes = len(harness.photo)
    _say(f"[{level.label}] priced {len(units)} operations")
    return units


def measure_levels(args: argparse.Namespace) -> tuple[list[Level], list[str], dict[str, cost.Units]]:
    """Seed each size in turn and time every operation on it (one moto, grown in place)."""
    checks = moto_patches.apply()  # installed and proved, as the dev stack does at startup
    from dev.moto_isolation import isolate_transactions

    isolate_transactions()  # after the patch, so the lock wraps it; as tests/integration/conftest.py does
    from moto import mock_aws

    from bench import seed
    from chalicelib.adapters.dynamodb.tables import create_tables, reset_connections
    from chalicelib.adapters.files import S3Files
    from chalicelib.settings import get_settings

    reset_connections()
    raw_reps = [int(x) for x in args.raw_reps.split(",")]
    levels: list[Level] = []
    meter = Meter()
    with mock_aws():
        create_tables()
        S3Files(get_settings()).ensure_bucket(get_settings().allowed_origins)
        world = seed.start()
        harness = Harness.create(world)
        harness.meter = meter
        _quiet_app_logs(meter)
        meter.install()
        units: dict[str, cost.Units] = {}
        try:
            # The app's metrics go to stdout, one EMF line per invocation as on Lambda: log bytes like its logs.
            with contextlib.redirect_stdout(_LogSink(meter)):
                sizes = _sizes(args.sizes)
                for index, size in enumerate(sizes):
                    started = time.monotonic()
                    written = seed.grow_inbox(world, size.conversations - 1) + seed.grow_history(world, size.messages)
                    seeded_s = time.monotonic() - started
                    _say(f"[{size.label}] seeded {written:,} items in {seeded_s:.1f} s")
                    # The seeded tables live in this process; a Lambda's heap does not hold them, so the collector
                    # must not walk them on every full collection.
                    gc.collect()
                    gc.freeze()
                    level = Level(size.label, size.conversations, size.messages, written, seeded_s)
                    level.floor = run_floor(harness, meter, args.floor_reps, args.warmup)
                    for operation in OPERATIONS:
                        level.samples[operation.name] = run_operation(harness, meter, operation, args.reps, args.warmup)
                        _say(f"[{size.label}] {operation.name}: p50 {level.samples[operation.name].p50:.2f} ms")
                    level.floor_after = run_floor(harness, meter, args.floor_reps, 0)
                    if index == len(sizes) - 1 and args.profile_reps > 0:
                        profiler = cProfile.Profile()
                        run_floor(harness, meter, args.profile_reps, 0, profiler)
                        level.profiles["*floor*"] = profile_shares(profiler)
                        for operation in OPERATIONS:
                            profiler = cProfile.Profile()
                            run_operation(harness, meter, operation, args.profile_reps, 0, profiler=profiler)
                            level.profiles[operation.name] = profile_shares(profiler)
                        _say(f"[{size.label}] profiled")
                    reps = raw_reps[index] if index < len(raw_reps) else raw_reps[-1]
                    if reps > 0:
                        level.raw_floor = run_floor(harness, meter, max(reps, 20), 0)
                        for operation in OPERATIONS:
                            level.raw[operation.name] = run_operation(harness, meter, operation, reps, 0, raw=True)
                            _say(f"[{size.label}] raw moto {operation.name}: {level.raw[operation.name].p50:.1f} ms")
                    if index == len(sizes) - 1:
                        units = measure_costs(harness, meter, level, args)
                    clear_frames()
                    levels.append(level)
                    _say(f"[{size.label}] done in {time.monotonic() - started:.0f} s")
        finally:
            meter.uninstall()
    return levels, checks, units


_INIT_OF = {
    "app.app": "api_handler",
    "app.connect": "websocket_connect",
    "app.message": "websocket_message",
    "app.disconnect": "websocket_disconnect",
    "app.on_upload": "on_upload",
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    load_before = round(os.getloadavg()[0], 1)
    command = "python -m bench.run" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    levels, checks, units = measure_levels(args)
    stack: stack_bench.StackResults | None = None
    if not args.skip_stack:
        _say("stack: two dev stacks over HTTP, small and large data")
        stack = stack_bench.measure(args.stack_reps, say=_say)
    cold: ColdStart | None = None
    if not args.skip_cold_start:
        _say("cold start: importing app vs chalice + boto3 in fresh interpreters")
        cold = measure_cold_start(args.cold_start_runs)
    package: PackageSize | None = None
    starts: cold_start.ColdStarts | None = None
    if not args.skip_package:
        _say("package: chalice package (fetches Lambda wheels from PyPI)")
        package = measure_package(keep_dir=OUT / "package")
        if package.ok and not args.skip_cold_start:
            _say("cold start as Lambda runs each function, before and after the zip rewrite, against a bare app")
            try:
                starts = cold_start.measure(OUT / "package", args.cold_start_runs)
            except (RuntimeError, OSError) as exc:
                starts = cold_start.ColdStarts(args.cold_start_runs, error=str(exc)[:500])
    init_cpu_ms = {}
    if starts is not None and not starts.error:
        init_cpu_ms = {_INIT_OF.get(f.handler, f.name): round(f.median("after"), 1) for f in starts.functions}
    bill = cost.bill(units, cost.Profile(), init_cpu_ms)
    _say("search indexing: index items per message (python -m bench.search_index --no-write)")
    search = cost.measure_search_index()  # the asynchronous path's search row, measured in this run
    elapsed = time.monotonic() - started
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": command.strip(),
        "elapsed_s": round(elapsed),
        "load": (load_before, round(os.getloadavg()[0], 1)),
        "machine": machine(),
        "args": vars(args),
        "self_check": checks,
        "encoding_verified": dict(moto_patches.VERIFIED),
    }
    text = render(levels, cold, package, info, starts=starts, stack=stack, bill=bill, search=search)
    print(text)
    if not args.no_write:
        write_section(RESULTS, "bench", text, PREAMBLE)
        # Modeled, not measured: kept beside the measured bill so the asynchronous path is never left out of it.
        write_section(RESULTS, "async-path", "\n".join(cost.render_async_path(search)) + "\n", PREAMBLE)
        OUT.mkdir(parents=True, exist_ok=True)
        document = {
            **info,
            "levels": [level.to_json() for level in levels],
            "cold_start": cold.to_json() if cold else None,
            "package": package.to_json() if package else None,
            "lambda_cold_starts": starts.to_json() if starts else None,
            "stack": stack.to_json() if stack else None,
            "cost": {
                "units": {name: u.__dict__ for name, u in units.items()},
                "init_cpu_ms": init_cpu_ms,
                "bill": bill.to_json(),
            },
            "search_index": search,
        }
        (OUT / "results.json").write_text(json.dumps(document, indent=2) + "\n")
        _say(f"wrote {RESULTS.relative_to(ROOT)} and {(OUT / 'results.json').relative_to(ROOT)} ({elapsed:.0f} s)")
    return 0


__all__ = ["Sample", "main"]

if __name__ == "__main__":
    sys.exit(main())
