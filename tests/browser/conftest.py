"""The console served for real (uvicorn, in this test's event loop) and Debian's headless chromium.

The console shares the bot's database and FixedClock, so a link the bot sends in the fake Bot API
opens in the browser. Tests skip, saying why, when chromium or axe-core is not installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn

from bot.console.app import create_app
from bot.sandbox.web_chat import WebSandbox
from tests.harness import BotHarness

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"

if not Path(CHROMIUM).exists():  # pragma: no cover - depends on the machine
    pytest.skip(
        f"{CHROMIUM} is missing: `apt-get install -y chromium` (done by .ci/run)",
        allow_module_level=True,
    )
try:
    from playwright.async_api import Browser, async_playwright
except ImportError:  # pragma: no cover - depends on the machine
    pytest.skip(
        "the playwright package is missing: pip install -e '.[dev]'", allow_module_level=True
    )


@pytest.fixture
def axe_source() -> str:
    """axe-core, from tests/browser/node_modules (npm ci)."""
    if not AXE.exists():
        pytest.skip("axe-core is missing: run `npm ci` in tests/browser (done by .ci/run)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
async def console_url(bot: BotHarness, tmp_path: Path) -> AsyncIterator[str]:
    """The console on a free local port, on the bot's database and clock.

    Its Try it sandbox keeps its pretend residents in a database of its own in tmp_path.
    """
    data = bot.app.bot_data
    assert data.settings is not None and data.engine is not None
    sandbox = WebSandbox(
        data.settings, clock=bot.clock, database_url=f"sqlite+aiosqlite:///{tmp_path}/sandbox.db"
    )
    app = create_app(
        data.settings,
        engine=data.engine,
        clock=bot.clock,
        gazetteer=data.gazetteer,
        sandbox=sandbox,
    )
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await sandbox.stop()
        sandbox.fake.assert_no_violations()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless chromium from Debian."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()
