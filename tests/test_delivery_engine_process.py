"""A real `bumpbuddies run` SIGKILLed mid-broadcast and started again: nobody is skipped."""

from __future__ import annotations

from pathlib import Path

from bench.broadcast import run_scenario
from bot.config import Settings


async def test_a_bot_killed_mid_broadcast_finishes_it_after_a_restart(tmp_path: Path) -> None:
    # The bench's machinery, small: 60 residents, a fake Bot API over HTTP enforcing 30/s, the
    # bot process killed with SIGKILL once half have their message, then started again.
    outcome = await run_scenario("killed", 60, tmp_path, kill_at=0.5)

    assert outcome.killed_after is not None and 30 <= outcome.killed_after < 60
    assert outcome.lost == 0
    assert outcome.rows_left == 0 and outcome.failed_rows == 0
    # The documented bound: only sends in flight, or sent and not yet recorded, can repeat.
    assert outcome.duplicates <= Settings(_env_file=None).delivery_max_in_flight
    assert outcome.notes == []
