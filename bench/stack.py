"""``python -m bench.stack``: ``dev.stack`` unchanged, on moto with ``bench/moto_patches.py`` installed.

Only ``make bench-load`` uses it (``--raw-moto`` runs plain ``dev.stack``): moto copies every table a transaction
touches, so without the patch each send of a long load run costs more than the one before, and the run would
measure moto's table copies instead of the stack.
"""

from __future__ import annotations

import os
import sys

from bench import moto_patches
from dev.moto_cors import disable_global_cors


def main(argv: list[str] | None = None) -> int:
    disable_global_cors(os.environ)  # dev.stack sets it too, but moto must see it at its first import: here
    moto_patches.install()  # before dev.stack's isolate_transactions, which then wraps the patched method
    from dev.stack import main as stack_main

    return stack_main(argv)


if __name__ == "__main__":
    sys.exit(main())
