"""``bench.cold_start``: where a function's init goes beyond a bare Chalice app's, from ``-X importtime``'s lines."""

from __future__ import annotations

from bench.cold_start import added_imports, import_self_times

IMPORT_TIME = """\
import time: self [us] | cumulative | imported package
import time:       120 |        120 |   _io
import time:      2500 |       2500 |     pydantic_core._pydantic_core
import time:      1500 |       4000 |   pydantic_core
import time:      8000 |      12000 | pydantic
import time:      6600 |       6600 |     chalicelib.domain.sending
import time:      3200 |       9800 |   chalicelib.domain.moderation
import time:       900 |        900 | chalicelib
import time:      3100 |      25000 | app
"""


def test_every_modules_own_time_in_ms() -> None:
    times = import_self_times(IMPORT_TIME + "not a line of importtime\n")
    assert times["pydantic_core._pydantic_core"] == 2.5
    assert times["chalicelib.domain.moderation"] == 3.2
    assert len(times) == 8  # the header and the stray line are no module


def test_what_the_bare_app_does_not_import_per_package_and_layer() -> None:
    bare = import_self_times("import time:       120 |        120 |   _io\n")
    assert added_imports(import_self_times(IMPORT_TIME), bare) == [
        ("chalicelib.domain", 9.8),
        ("pydantic", 8.0),
        ("pydantic_core", 4.0),
        ("app", 3.1),
        ("chalicelib", 0.9),
    ]


def test_a_module_the_bare_app_imports_too_is_not_counted() -> None:
    times = import_self_times(IMPORT_TIME)
    added = dict(added_imports(times, {"pydantic": 1.0, "chalicelib.domain.sending": 1.0}))
    assert "pydantic" not in added
    assert added["chalicelib.domain"] == 3.2


def test_only_the_largest() -> None:
    assert added_imports(import_self_times(IMPORT_TIME), {}, top=2) == [("chalicelib.domain", 9.8), ("pydantic", 8.0)]
