"""The hazard log (docs/CLINICAL_SAFETY.md) cites only tests that exist, and every hazard one."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOG = ROOT / "docs" / "CLINICAL_SAFETY.md"
_CITED = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
_HAZARD = re.compile(r"^### (H\d+)\. ", re.MULTILINE)


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_the_hazard_log_cites_exists() -> None:
    cited = _CITED.findall(LOG.read_text(encoding="utf-8"))

    assert len(cited) >= 20
    missing = [
        f"{file}::{name}"
        for file, name in cited
        if not (ROOT / file).is_file() or name not in _test_names(ROOT / file)
    ]
    assert missing == []


def test_every_hazard_names_an_owner_a_risk_and_evidence() -> None:
    text = LOG.read_text(encoding="utf-8")
    starts = [m.start() for m in _HAZARD.finditer(text)] + [text.index("## Open actions")]

    assert len(starts) > 10
    for start, end in itertools.pairwise(starts):
        section = text[start:end]
        for field in (
            "| Owner |",
            "| Cause |",
            "| Effect |",
            "| Initial risk |",
            "| Residual risk |",
        ):
            assert field in section, section.splitlines()[0]
        assert _CITED.search(section), section.splitlines()[0]


def _unreviewed_row(text: str) -> set[str]:
    start = text.index("### H13. Unreviewed translation of urgent wording")
    row = re.search(r"^\| Unreviewed languages \| ([^|]*) \|$", text[start:], re.MULTILINE)
    assert row, "H13 needs an 'Unreviewed languages' row"
    return {code.strip() for code in row.group(1).split(",") if code.strip()}


def test_unreviewed_urgent_wording_is_a_hazard_until_reviewed() -> None:
    """Every language whose built-in urgent wording is a draft is named by H13 until reviewed."""
    from bot.services.urgent.defaults import built_in_for, built_in_languages

    listed = _unreviewed_row(LOG.read_text(encoding="utf-8"))
    reviewed: dict[str, bool] = {}
    for code in built_in_languages():
        found = built_in_for(code)
        assert found is not None
        reviewed[code] = found.reviewed

    drafts = {code for code, done in reviewed.items() if not done}
    assert drafts <= listed, f"add {sorted(drafts - listed)} to H13's Unreviewed languages"
    done = {code for code, ok in reviewed.items() if ok}
    assert not listed & done, f"{sorted(listed & done)} are reviewed: take them out of H13's row"
