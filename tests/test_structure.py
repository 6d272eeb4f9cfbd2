"""How the code is laid out, so that a rule lives in one place and a feature is found in one hop."""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"
HANDLERS = BOT / "handlers"
# The helpers every handler shares; a feature package's setup.py registers its own modules.
SHARED = {"bot.handlers.common"}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(BOT.parent).with_suffix("").parts)


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            package = BOT.parent.joinpath(*node.module.split("."))
            if package.is_dir():
                # `from bot.handlers import privacy` imports the module bot.handlers.privacy.
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
    return found


def test_no_handler_module_imports_another() -> None:
    offenders = {}
    for path in sorted(HANDLERS.rglob("*.py")):
        if path.name in ("__init__.py", "setup.py") or _module(path) in SHARED:
            continue
        others = {
            m for m in _imported_modules(path) if m.startswith("bot.handlers.") and m not in SHARED
        }
        if others:
            offenders[_module(path)] = sorted(others)
    assert offenders == {}


def test_services_never_import_telegram() -> None:
    offenders = [
        _module(path)
        for path in sorted((BOT / "services").rglob("*.py"))
        if any(m == "telegram" or m.startswith("telegram.") for m in _imported_modules(path))
    ]
    assert offenders == []


def test_services_are_grouped_by_feature() -> None:
    flat = sorted(p.stem for p in (BOT / "services").glob("*.py") if p.name != "__init__.py")
    # A new module goes into its feature's folder; these few stand alone.
    assert flat == ["demo", "feedback", "synthetic"]
