"""What importing the Lambda entry module leaves behind (each deployed function imports ``app`` on cold start).

``make bench`` measures how long the import takes; these tests pin what it must and must not do, so a change
that undoes a cold-start saving, or leaves the garbage collector off, fails here instead of drifting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import gc, json, sys
import app
print(json.dumps({
    "gc_enabled": gc.isenabled(),
    "frozen": gc.get_freeze_count(),
    "loaded": sorted(m for m in ("jwt", "cryptography", "PIL", "moto") if m in sys.modules),
}))
"""


def _import_app_in_a_fresh_interpreter() -> dict[str, object]:
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_collector_is_back_on_after_import_with_the_import_time_objects_frozen() -> None:
    state = _import_app_in_a_fresh_interpreter()
    assert state["gc_enabled"] is True
    assert isinstance(state["frozen"], int) and state["frozen"] > 10_000


def test_only_what_every_function_needs_is_imported() -> None:
    # PyJWT (and the cryptography it loads) is for the functions that verify tokens, on first use; Pillow is for
    # the upload function, on first use; moto must never be reachable from the app.
    assert _import_app_in_a_fresh_interpreter()["loaded"] == []
