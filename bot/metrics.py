"""Prometheus metrics, served at /metrics by `bumpbuddies serve`.

With several workers, each process writes its samples to PROMETHEUS_MULTIPROC_DIR (set by
`serve` before the workers start) and /metrics adds them up, whichever worker answers. Labels
are kinds and outcomes only: nothing here can identify a resident.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "DELIVERIES",
    "DELIVERY_QUEUE_DEPTH",
    "JOBS_RUN",
    "LEADING",
    "UPDATES",
    "UPDATE_PART_SECONDS",
    "UPDATE_SECONDS",
    "delivery_outcome",
    "render",
    "update_handled",
]

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"

UPDATES = Counter("bumpbuddies_updates", "Telegram updates handled, by type.", ["type"])
UPDATE_SECONDS = Histogram(
    "bumpbuddies_update_handling_seconds",
    "Time from an update's arrival to the end of its handling.",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UPDATE_PART_SECONDS = Counter(
    "bumpbuddies_update_part_seconds",
    "Seconds of update handling by part: turn (waiting for her chat's turn), db (SQL "
    "statements), slot (waiting for Telegram's limits), telegram (Bot API calls), app (the rest).",
    ["part"],
)
DELIVERIES = Counter(
    "bumpbuddies_deliveries",
    "Bulk sends by outcome: sent, failed, refused_429 (flood control), refused_403 (blocked).",
    ["outcome"],
)
DELIVERY_QUEUE_DEPTH = Gauge(
    "bumpbuddies_delivery_queue_depth",
    "Messages queued and not yet sent (read when /metrics is asked).",
    multiprocess_mode="mostrecent",
)
JOBS_RUN = Counter("bumpbuddies_jobs_run", "Background jobs run, by job.", ["job"])
LEADING = Gauge(
    "bumpbuddies_leading",
    "1 on the worker that runs the background work.",
    multiprocess_mode="livesum",
)

# The delivery engine's outcomes (bot/delivery/sender.py Outcome values) as the council reads them.
_DELIVERY_OUTCOMES = {
    "sent": "sent",
    "flood": "refused_429",
    "unreachable": "refused_403",
    "retry": "failed",
    "failed": "failed",
}


def update_handled(seconds: float, parts: dict[str, float]) -> None:
    """One update's handling time, in all and part by part."""
    UPDATE_SECONDS.observe(seconds)
    for name, spent in parts.items():
        UPDATE_PART_SECONDS.labels(part=name).inc(spent)


def delivery_outcome(outcome: str) -> None:
    """Count one bulk send's outcome."""
    DELIVERIES.labels(outcome=_DELIVERY_OUTCOMES.get(outcome, "failed")).inc()


def render() -> bytes:
    """The exposition text: every worker's samples added up in multiprocess mode."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)
