"""The dev stack's data folder: what moto held when the stack stopped, loaded again when it starts.

``DEV_DATA_DIR`` (default ``.dev/data``; ``off`` keeps nothing) holds one snapshot: every DynamoDB table's items
as DynamoDB JSON, one item a line (``dynamodb/<table>.jsonl``, readable with ``jq``), and the attachments
bucket's objects with their content type, metadata and tags (``s3/<bucket>/``), described by ``manifest.json``.
The stack writes it on exit (after the WebSocket gateway closed its sockets, so no connection outlives the run)
and loads it at start, before it serves anything and before S3 upload events are emulated (a reloaded upload
is not processed twice). A snapshot is written beside the old one and swapped in, so a crash while saving
leaves the previous one. Tables of another stage or table prefix are kept untouched for the run that uses them.

While a stack runs, ``stack.pid`` in the folder names it: a second stack on the same folder and
``make dev-reset`` refuse instead of losing each other's data.

``python -m dev.data_dir reset`` (``make dev-reset``) empties the folder; ``python -m dev.data_dir show`` prints
what it holds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR_ENV = "DEV_DATA_DIR"
DEFAULT_DATA_DIR = ROOT / ".dev" / "data"
OFF = ("off", "none", "false", "0")
FORMAT = 1
_BATCH = 5000


def data_dir_from_environ(environ: Mapping[str, str]) -> Path | None:
    """The folder ``DEV_DATA_DIR`` names (relative to the project), the default when unset, None when ``off``."""
    raw = (environ.get(DATA_DIR_ENV) or "").strip()
    if raw.lower() in OFF:
        return None
    path = Path(raw).expanduser() if raw else DEFAULT_DATA_DIR
    return path if path.is_absolute() else ROOT / path


class DataDirInUse(Exception):
    """Another running stack owns the folder."""


@dataclass
class Report:
    """What a load or a save moved."""

    items: int = 0
    tables: int = 0
    objects: int = 0
    seconds: float = 0.0
    kept: list[str] = field(default_factory=list)  # tables or buckets of the snapshot this run does not use

    def describe(self) -> str:
        kept = f"; kept for another stage: {', '.join(self.kept)}" if self.kept else ""
        return f"{self.items:,} items in {self.tables} tables, {self.objects} objects, {self.seconds:.1f} s{kept}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


class DataDir:
    """One stack's data folder (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.snapshot = path / "snapshot"
        self._partial = path / "snapshot.partial"
        self._previous = path / "snapshot.previous"
        self._lock = path / "stack.pid"
        self._loaded_tables: set[str] = set()
        self._loaded_buckets: set[str] = set()

    # --- ownership ---

    def owner(self) -> int | None:
        """The pid of the running stack that owns the folder, if any."""
        try:
            pid = int(self._lock.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) else None

    def claim(self) -> None:
        """Own the folder for this process, or refuse when another running stack owns it."""
        self.path.mkdir(parents=True, exist_ok=True)
        owner = self.owner()
        if owner is not None and owner != os.getpid():
            raise DataDirInUse(
                f"{self.path} is used by the dev stack running as pid {owner}: stop it first, or give this one its "
                f"own folder ({DATA_DIR_ENV}=<path>, or {DATA_DIR_ENV}=off to keep nothing)"
            )
        self._lock.write_text(f"{os.getpid()}\n")

    def release(self) -> None:
        if self.owner() == os.getpid():
            self._lock.unlink(missing_ok=True)

    def reset(self) -> bool:
        """Forget every snapshot; False when there was nothing to forget. Refuses while a stack owns the folder."""
        owner = self.owner()
        if owner is not None:
            raise DataDirInUse(f"{self.path} is used by the dev stack running as pid {owner}: stop it first")
        found = False
        for directory in (self.snapshot, self._partial, self._previous):
            if directory.exists():
                shutil.rmtree(directory)
                found = True
        return found

    # --- reading ---

    def manifest(self) -> dict[str, Any] | None:
        """The current snapshot's manifest (recovering a swap a crash interrupted)."""
        if not self.snapshot.exists() and self._previous.exists():
            self._previous.rename(self.snapshot)
        path = self.snapshot / "manifest.json"
        if not path.exists():
            return None
        manifest = json.loads(path.read_text())
        if manifest.get("format") != FORMAT:
            raise ValueError(f"{path}: format {manifest.get('format')!r}, this stack reads {FORMAT}")
        return manifest

    def load(self, *, region: str, s3: Any, bucket: str) -> Report:
        """Put the snapshot's items into moto's existing tables and its objects into ``bucket``."""
        from dev import moto_bulk

        started = time.monotonic()
        report = Report()
        manifest = self.manifest()
        if manifest is None:
            return report
        existing = set(moto_bulk.table_names(region))
        for name, entry in manifest.get("tables", {}).items():
            if name not in existing:
                report.kept.append(name)
                continue
            report.items += moto_bulk.put_items(name, self._lines(self.snapshot / entry["file"]), region=region)
            report.tables += 1
            self._loaded_tables.add(name)
        for name, entry in manifest.get("buckets", {}).items():
            if name != bucket:
                report.kept.append(name)
                continue
            for record in self._lines(self.snapshot / entry["file"]):
                extra: dict[str, Any] = {}
                if record.get("tags"):
                    extra["Tagging"] = urlencode(record["tags"])
                if record.get("contentType"):
                    extra["ContentType"] = record["contentType"]
                body = (self.snapshot / entry["blobs"] / record["blob"]).read_bytes()
                s3.put_object(Bucket=bucket, Key=record["key"], Body=body, Metadata=record.get("metadata", {}), **extra)
                report.objects += 1
            self._loaded_buckets.add(name)
        report.seconds = time.monotonic() - started
        return report

    @staticmethod
    def _lines(path: Path) -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    yield json.loads(line)

    # --- writing ---

    def save(self, *, region: str, s3: Any, bucket: str | None, tables: list[str]) -> Report:
        """Write ``tables`` and ``bucket`` as the new snapshot; what the old one held for other stages is kept."""
        import moto

        from dev import moto_bulk

        started = time.monotonic()
        report = Report()
        old = self.manifest() or {"tables": {}, "buckets": {}}
        if self._partial.exists():
            shutil.rmtree(self._partial)
        (self._partial / "dynamodb").mkdir(parents=True)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "savedAt": datetime.now(UTC).isoformat(timespec="seconds"),
            "moto": moto.__version__,
            "tables": {},
            "buckets": {},
        }
        for name in tables:
            relative = f"dynamodb/{name}.jsonl"
            count = 0
            with (self._partial / relative).open("w", encoding="utf-8") as out:
                batch: list[str] = []
                for item in moto_bulk.items_of(name, region=region):
                    batch.append(json.dumps(item, separators=(",", ":")))
                    count += 1
                    if len(batch) >= _BATCH:
                        out.write("\n".join(batch) + "\n")
                        batch = []
                if batch:
                    out.write("\n".join(batch) + "\n")
            manifest["tables"][name] = {"file": relative, "items": count}
            report.items += count
            report.tables += 1
        if bucket is not None:
            manifest["buckets"][bucket] = self._save_bucket(s3, bucket, report)
        # What this run did not load (another stage's tables, another bucket) goes on as it was.
        for kind, loaded in (("tables", set(tables)), ("buckets", {bucket})):
            for name, entry in old.get(kind, {}).items():
                if name in loaded or name in self._loaded_tables | self._loaded_buckets:
                    continue
                for key in ("file", "blobs"):
                    if key in entry and (self.snapshot / entry[key]).exists():
                        target = self._partial / entry[key]
                        target.parent.mkdir(parents=True, exist_ok=True)
                        copy = shutil.copytree if (self.snapshot / entry[key]).is_dir() else shutil.copy2
                        copy(self.snapshot / entry[key], target)
                manifest[kind][name] = entry
                report.kept.append(name)
        (self._partial / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        # Swap: the old snapshot stays complete until the new one is in place.
        if self._previous.exists():
            shutil.rmtree(self._previous)
        if self.snapshot.exists():
            self.snapshot.rename(self._previous)
        self._partial.rename(self.snapshot)
        if self._previous.exists():
            shutil.rmtree(self._previous)
        report.seconds = time.monotonic() - started
        return report

    def _save_bucket(self, s3: Any, bucket: str, report: Report) -> dict[str, Any]:
        prefix = f"s3/{bucket}"
        blobs = self._partial / prefix / "blobs"
        blobs.mkdir(parents=True)
        records = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for summary in page.get("Contents", []):
                key = summary["Key"]
                obj = s3.get_object(Bucket=bucket, Key=key)
                blob = f"{len(records):06d}"
                (blobs / blob).write_bytes(obj["Body"].read())
                tags = s3.get_object_tagging(Bucket=bucket, Key=key).get("TagSet", [])
                records.append(
                    {
                        "key": key,
                        "blob": blob,
                        "contentType": obj.get("ContentType"),
                        "metadata": obj.get("Metadata", {}),
                        "tags": {tag["Key"]: tag["Value"] for tag in tags},
                    }
                )
        with (self._partial / prefix / "objects.jsonl").open("w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record) + "\n")
        report.objects += len(records)
        return {"file": f"{prefix}/objects.jsonl", "blobs": f"{prefix}/blobs", "objects": len(records)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.data_dir", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["reset", "show"], help="reset: empty the folder; show: what it holds")
    args = parser.parse_args(argv)
    path = data_dir_from_environ(os.environ)
    if path is None:
        print(f"dev.data_dir: {DATA_DIR_ENV}=off: the stack keeps no data", file=sys.stderr)
        return 0
    folder = DataDir(path)
    try:
        if args.command == "reset":
            print(f"{'emptied' if folder.reset() else 'nothing to empty in'} {path}")
            return 0
        manifest = folder.manifest()
    except DataDirInUse as exc:
        print(f"dev.data_dir: {exc}", file=sys.stderr)
        return 1
    if manifest is None:
        print(f"{path}: empty")
        return 0
    print(f"{path}: saved {manifest['savedAt']} (moto {manifest['moto']})")
    for name, entry in sorted(manifest["tables"].items()):
        print(f"  {name}: {entry['items']:,} items")
    for name, entry in sorted(manifest["buckets"].items()):
        print(f"  s3://{name}: {entry['objects']} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
