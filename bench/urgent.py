"""Urgent-message matching: how long one message takes, on the corpus in tests/urgent_corpus/.

Every corpus message (urgent and ordinary, both parts) is matched `--rounds` times with the
built-in lists and with the sample content on top; a fresh matcher (no correction cache) is
timed separately, as are compiling the rules and a 2,000-character message (the longest read).
Results: bench/results/urgent.json and a table to paste into docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bot.services.local_info.content import ContentSet
from bot.services.local_info.content_files import read_content
from bot.services.places.geo import default_gazetteer
from bot.services.urgent.help import build_rules

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "urgent_corpus"
RESULTS = ROOT / "bench" / "results"


def corpus() -> list[str]:
    """Every message of the corpus, urgent and ordinary."""
    messages = []
    for path in sorted(CORPUS.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                messages.append(line.split(" | ", 1)[-1])
    return messages


def _micros(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "mean_us": round(statistics.fmean(ordered) * 1e6, 1),
        "p99_us": round(ordered[int(len(ordered) * 0.99)] * 1e6, 1),
        "max_us": round(ordered[-1] * 1e6, 1),
    }


def measure(content: ContentSet | None, messages: list[str], rounds: int) -> dict[str, Any]:
    """Compile once, match a cold pass, then `rounds` warm passes."""
    started = time.perf_counter()
    rules = build_rules(content)
    compile_ms = (time.perf_counter() - started) * 1000
    cold = []
    for message in messages:
        started = time.perf_counter()
        rules.matcher.groups_in(message)
        cold.append(time.perf_counter() - started)
    warm = []
    for _ in range(rounds):
        for message in messages:
            started = time.perf_counter()
            rules.matcher.groups_in(message)
            warm.append(time.perf_counter() - started)
    long_text = " ".join(messages)[:2000]
    started = time.perf_counter()
    rules.matcher.groups_in(long_text)
    return {
        "compile_ms": round(compile_ms, 1),
        "cold": _micros(cold),
        "warm": _micros(warm),
        "longest_message_ms": round((time.perf_counter() - started) * 1000, 2),
    }


def main() -> None:
    """Run and write bench/results/urgent.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    messages = corpus()
    sample = read_content(ROOT / "content", default_gazetteer())
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    result = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "commit": commit,
        "messages": len(messages),
        "rounds": args.rounds,
        "built_in": measure(None, messages, args.rounds),
        "with_sample_content": measure(sample, messages, args.rounds),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "urgent.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("| lists | compile | first pass mean / p99 | warm mean / p99 / max | 2,000 characters |")
    print("|---|---|---|---|---|")
    for name in ("built_in", "with_sample_content"):
        row = result[name]
        assert isinstance(row, dict)
        cold, warm = row["cold"], row["warm"]
        print(
            f"| {name} | {row['compile_ms']} ms | {cold['mean_us']} / {cold['p99_us']} µs | "
            f"{warm['mean_us']} / {warm['p99_us']} / {warm['max_us']} µs | "
            f"{row['longest_message_ms']} ms |"
        )


if __name__ == "__main__":
    main()
