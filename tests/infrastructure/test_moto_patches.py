"""``dev/moto_patches.py`` proves itself at startup: on this moto every patch holds, and a patch a moto upgrade breaks
stops the stack with an error naming that patch.

Each case runs in a fresh interpreter: the patches change moto for the whole process, and the other suites run on
moto as it ships.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from dev.moto_patches import PATCHES
from infrastructure.deploy import ROOT

# What a moto upgrade could do to each patch, played in the fresh interpreter before ``apply()``.
BREAKAGES = {
    # The rollback no longer restores what a cancelled transaction changed.
    "sparse_snapshots": "moto_patches._restore = lambda saved: None",
    # moto renamed a parameter of Table.query that the patch passes on by position.
    "partition_queries": textwrap.dedent(
        """
        from moto.dynamodb.models.table import Table
        original = Table.query
        def query(self, hash_key, range_comparison, range_objs, limit, start_key, scan_index_forward, *a, **k):
            return original(self, hash_key, range_comparison, range_objs, limit, start_key, scan_index_forward, *a, **k)
        Table.query = query
        """
    ),
    # The direct encoder drops a member moto's serializer writes.
    "direct_encoding": "moto_patches._without_nulls = lambda value: {k: v for k, v in value.items() if k != 'Items'}",
    # moto tracks instances some other way than BaseModel.__new__, so the patch no longer stops it.
    "untracked_items": textwrap.dedent(
        """
        from moto.dynamodb.models.dynamo_type import Item
        init = Item.__init__
        def tracked_init(self, *args, **kwargs):
            init(self, *args, **kwargs)
            type(self).instances_tracked.append(self)
        Item.__init__ = tracked_init
        """
    ),
    # moto changed how a table keeps its items, so items written in bulk are not where queries look.
    "bulk_writes": "import dev.moto_bulk as bulk\nbulk._item = lambda h, r, attrs: bulk.__dict__['_orig'](h, r, {})",
    # moto's SQS queues count their messages some other way than the properties the patch wraps.
    "sqs_sends": textwrap.dedent(
        """
        from moto.sqs.models import Queue
        Queue.approximate_number_of_messages_delayed = Queue.approximate_number_of_messages_delayed.fget
        """
    ),
}

PROGRAM = """
import json, sys
from dev import moto_patches
from dev import moto_bulk
moto_bulk._orig = moto_bulk._item
{breakage}
try:
    checks = moto_patches.apply()
except moto_patches.PatchBroken as exc:
    print(json.dumps({{"broken": exc.patch, "message": str(exc)}}))
else:
    print(json.dumps({{"checks": checks}}))
"""


def run(breakage: str = "") -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(breakage=breakage)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_every_patch_holds_on_this_moto() -> None:
    result = run()
    assert "broken" not in result, result
    checks = result["checks"]
    assert isinstance(checks, list)
    assert len(checks) == 7
    assert any("cancelled transaction" in check for check in checks)
    assert any("identical pages" in check for check in checks)
    assert any("begins_with" in check for check in checks)
    assert any("SQS sends" in check for check in checks)


def test_every_patch_has_a_breakage_case() -> None:
    assert set(BREAKAGES) == set(PATCHES)


@pytest.mark.parametrize("patch", sorted(BREAKAGES))
def test_a_broken_patch_fails_the_self_check_naming_it(patch: str) -> None:
    result = run(BREAKAGES[patch])
    assert result.get("broken") == patch, result
    message = str(result["message"])
    assert f"moto patch {patch!r}" in message
    assert PATCHES[patch] in message
    assert "DEV_MOTO_PATCHES=off" in message
