"""What importing the Lambda entry module leaves behind (each deployed function imports ``app`` on cold start).

``make bench`` measures how long the import takes; these tests pin what it must and must not do, so a change
that undoes a cold-start saving, or leaves the garbage collector off, fails here instead of drifting.
"""

from __future__ import annotations

import functools
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


_FUNCTION_PROBE = """
import json, sys
import app
print(json.dumps({
    "routes": len(app.app.routes),
    "pydantic": "pydantic" in sys.modules,
    "chalicelib": sorted(m for m in sys.modules if m.startswith("chalicelib.")),
}))
"""


def _start_function(handler: str | None) -> dict[str, object]:
    """``import app`` as Lambda starts the function whose handler is ``handler`` (its ``_HANDLER``)."""
    env = {k: v for k, v in os.environ.items() if k != "_HANDLER"}
    if handler is not None:
        env["_HANDLER"] = handler
    completed = subprocess.run(
        [sys.executable, "-c", _FUNCTION_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_rest_function_registers_every_route_as_the_packaged_app_does() -> None:
    everything = _start_function(None)  # chalice package, the dev stack and the tests: no _HANDLER
    rest = _start_function("app.app")
    assert isinstance(everything["routes"], int) and everything["routes"] > 20
    assert rest["routes"] == everything["routes"]


def test_the_webhook_consumer_loads_its_use_case_and_no_other_functions_code() -> None:
    state = _start_function("app.on_webhook")
    loaded = state["chalicelib"]
    assert isinstance(loaded, list)
    assert state["routes"] == 0
    # Its own use case and adapters, at init (bootstrap.preload) ...
    assert {"chalicelib.services.webhooks", "chalicelib.adapters.webhooks", "chalicelib.adapters.queues"} <= set(loaded)
    # ... and none of the wire models, the REST blueprints or the socket protocol.
    assert state["pydantic"] is False
    assert not [m for m in loaded if m.startswith(("chalicelib.schemas", "chalicelib.entrypoints.http"))]
    assert "chalicelib.entrypoints.ws.dispatcher" not in loaded
    # Delivering needs no table: the models and the stream's record mapping are the stream consumer's (events()).
    stream_side = ("chalicelib.adapters.dynamodb", "chalicelib.services.message_stream")
    assert not [m for m in loaded if m.startswith(stream_side)]


_BUILD_PROBE = """
import json, sys
from chalicelib import bootstrap
bootstrap.preload({name!r})
before = set(sys.modules)
getattr(bootstrap.build(), {name!r})
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.startswith("chalicelib"))))
"""


def test_preload_imports_everything_building_a_use_case_needs() -> None:
    # A use case missing from bootstrap._BUILT_FROM, or listed without a module it is built from, would load that
    # code on the first request instead of at init: building it after preload must import nothing of the app's.
    from chalicelib import bootstrap

    names = [name for name, value in vars(bootstrap.Services).items() if isinstance(value, functools.cached_property)]
    assert sorted(names) == sorted(bootstrap._BUILT_FROM)
    late: dict[str, list[str]] = {}
    for name in names:
        completed = subprocess.run(
            [sys.executable, "-c", _BUILD_PROBE.format(name=name)],
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if k != "_HANDLER"},
            capture_output=True,
            text=True,
            check=True,
        )
        imported = json.loads(completed.stdout.strip().splitlines()[-1])
        if imported:
            late[name] = imported
    assert late == {}


def test_only_the_default_socket_function_loads_what_frames_call() -> None:
    frames = {"chalicelib.services.messaging", "chalicelib.services.lifecycle"}
    for handler in ("app.connect", "app.disconnect"):
        loaded = _start_function(handler)["chalicelib"]
        assert isinstance(loaded, list)
        assert "chalicelib.entrypoints.ws.dispatcher" in loaded
        assert not frames & set(loaded), handler
    message = _start_function("app.message")["chalicelib"]
    assert isinstance(message, list)
    assert frames <= set(message)
