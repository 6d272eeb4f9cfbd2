"""`python -m bench.profiled OUT.prof -m module args…`: run a module under cProfile on CPU time.

cProfile's default clock is the wall clock, so a loopback send that wakes the fake (which then
takes the CPU) looks like the sender's own time; process time shows what each process costs.
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time


def main() -> None:
    """Profile `-m module` with the remaining arguments; write the stats when it ends."""
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m bench.profiled OUT.prof -m module [args...]")
    sys.argv = [module, *rest]
    profile = cProfile.Profile(time.process_time)
    profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        profile.disable()
        profile.dump_stats(out)


if __name__ == "__main__":
    main()
