"""`python -m bench.profile_summary FILE.prof MESSAGES`: where a profiled process spent its CPU.

Own time is grouped by library (httpx, httpcore, h11, anyio, SQLAlchemy…); time in built-ins and
standard-library helpers (isinstance, contextlib…) is charged to whoever called them, in proportion
to the calls' time, so each library's share includes the small functions it leans on. Start-up
(imports, geodata, migrations) is listed apart from the per-message work.
"""

from __future__ import annotations

import pstats
import sys
from collections import defaultdict
from typing import Any

Key = tuple[str, int, str]

_LIBRARIES = (
    "httpcore",
    "h11",
    "httpx",
    "anyio",
    "sniffio",
    "sqlalchemy",
    "aiosqlite",
    "telegram",
    "apscheduler",
    "tornado",
)
# Loaded once when the bot starts, whatever it then sends.
_START_UP = ("alembic", "matplotlib", "numpy", "scipy", "PIL", "pydantic", "yaml", "typer", "click")
_IMPORT_BUILTINS = (
    "<built-in method marshal.loads>",
    "<built-in method builtins.compile>",
    "<built-in method builtins.__build_class__>",
    "<built-in method _imp.create_dynamic>",
    "<built-in method _imp.exec_dynamic>",
)


def _group(filename: str, function: str) -> str | None:
    for library in _LIBRARIES:
        if f"site-packages/{library}/" in filename:
            return library
    for library in _START_UP:
        if f"site-packages/{library}" in filename:
            return "start-up (imports, migrations)"
    if "importlib" in filename or function in _IMPORT_BUILTINS:
        return "start-up (imports, migrations)"
    if "/bot/services/places/geo" in filename:
        return "start-up (geodata)"
    if "/bot/delivery/" in filename:
        return "bot/delivery (engine, sender)"
    if "/bot/" in filename or "/models/" in filename or "/bench/" in filename:
        return "bot (handlers, jobs)"
    if "asyncio" in filename or "selectors" in filename or function.startswith("<method 'poll'"):
        return "asyncio event loop"
    if "/json/" in filename:
        return "json"
    if function.startswith(("<method 'send'", "<method 'recv'")):
        return "socket send/recv"
    return None


def groups(stats: dict[Key, Any]) -> dict[str, float]:
    """CPU seconds per group, largest first."""
    memo: dict[tuple[Key, int], dict[str, float]] = {}

    def shares(key: Key, depth: int) -> dict[str, float]:
        filename, _, function = key
        group = _group(filename, function)
        if group is not None:
            return {group: 1.0}
        if depth > 6:
            return {"other": 1.0}
        if (key, depth) in memo:
            return memo[(key, depth)]
        callers: dict[Key, tuple[int, int, float, float]] = stats[key][4]
        total = sum(timing[2] for timing in callers.values())
        result: defaultdict[str, float] = defaultdict(float)
        if not total:
            result["other"] = 1.0
        for caller, timing in callers.items():
            if total and caller in stats:
                for name, share in shares(caller, depth + 1).items():
                    result[name] += share * timing[2] / total
        memo[(key, depth)] = result
        return result

    seconds: defaultdict[str, float] = defaultdict(float)
    for key, timing in stats.items():
        for name, share in shares(key, 0).items():
            seconds[name] += timing[2] * share
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


def main() -> None:
    """Print a table: group, CPU seconds, share of the per-message work, µs per message."""
    path, messages = sys.argv[1], int(sys.argv[2])
    seconds = groups(pstats.Stats(path).stats)  # type: ignore[attr-defined]
    start_up = sum(v for k, v in seconds.items() if k.startswith("start-up"))
    work = sum(seconds.values()) - start_up
    print("| where | CPU s | share of sending | µs per message |")
    print("|---|---|---|---|")
    for name, value in seconds.items():
        if not name.startswith("start-up"):
            share = f"{value / work:.0%}"
            print(f"| {name} | {value:.2f} | {share} | {value / messages * 1e6:.0f} |")
    print(f"| start-up (not per message) | {start_up:.2f} | | |")


if __name__ == "__main__":
    main()
