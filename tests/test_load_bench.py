"""The load benchmark's quick mode runs end to end (a smoke test: no figure is judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_quick_load_benchmark_signs_residents_up_and_writes_its_figures(
    tmp_path: Path,
) -> None:
    out = tmp_path / "load.json"
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(QUIET_HOURS_START="0", QUIET_HOURS_END="0")

    finished = subprocess.run(
        [sys.executable, "-m", "bench.load", "--quick", "--workers", "1", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-2000:]
    results = json.loads(out.read_text())
    assert results["settings"]["database"] == "sqlite"
    for name in ("echo_burst", "workers_1_single", "workers_1_burst", "workers_1_crowd"):
        scenario = results["scenarios"][name]
        assert scenario["lost_updates"] == 0, name
        assert scenario["updates_answered"] == scenario["residents"] * 13, name
    assert results["scenarios"]["workers_1_crowd"]["signed_up"] == 6
    assert set(results["figures"]) >= {
        "p95_ms_100_residents",
        "p95_ratio_20_over_1",
        "updates_ratio_vs_echo",
        "lost_updates_worker_kill",
        "lost_updates_db_restart",
    }
