"""The staff console in a real browser: signing in, downloads, refusals, keyboard, zoom, axe."""

from __future__ import annotations

import asyncio
import io
import os
import re
import zipfile
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, ViewportSize
from sqlalchemy import select

from bot.sandbox.fake_api import FakeTelegram, FakeUser
from models import Broadcast, StaffRole
from tests.factories import make_staff, onboard
from tests.harness import BotHarness

LINK = re.compile(r"http://127\.0\.0\.1:8080(/signin/link/[A-Za-z0-9_-]+)")
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PAGES = ["/", "/reports", "/links", "/moderation", "/staff", "/broadcasts", "/content"]
# 200% zoom halves the CSS pixels across: a 1280-pixel-wide window shows a 640-pixel page.
ZOOMED: ViewportSize = {"width": 640, "height": 400}
# Set (e.g. to docs/console) to keep the screenshots; otherwise they go to the test's folder.
SCREENSHOTS = os.environ.get("CONSOLE_SCREENSHOTS")


async def staff_member(bot: BotHarness, fake: FakeTelegram, role: StaffRole) -> FakeUser:
    user = fake.new_user(f"Staff {role.value}", started=True)
    async with bot.session() as session, session.begin():
        await make_staff(session, bot.clock.now(), role, user.id)
    return user


async def link_from_bot(bot: BotHarness, user: FakeUser) -> str:
    replies = await bot.send(user, "/console")
    match = LINK.search(replies[-1].text or "")
    assert match, replies[-1].text
    return match.group(1)


async def signed_in_page(
    bot: BotHarness, browser: Browser, console_url: str, user: FakeUser, **options: Any
) -> Page:
    page = await (await browser.new_context(accept_downloads=True, **options)).new_page()
    # Fail in seconds, not half a minute: everything here is local.
    page.set_default_timeout(5000)
    await page.goto(console_url + await link_from_bot(bot, user))
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(console_url + "/")
    return page


async def test_staff_sign_in_with_the_link_the_bot_sent_and_download_a_report(
    bot: BotHarness, fake: FakeTelegram, browser: Browser, console_url: str
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    page = await signed_in_page(bot, browser, console_url, admin)
    assert await page.get_by_role("heading", level=1).inner_text() == "Overview"
    await page.get_by_role("link", name="Reports").click()
    async with page.expect_download() as started:
        await page.locator("#csv-zip").click()
    download = await started.value
    saved = await download.path()
    assert download.suggested_filename.endswith("-csv.zip")
    names = zipfile.ZipFile(io.BytesIO(await asyncio.to_thread(Path(saved).read_bytes))).namelist()
    assert "signups_by_district.csv" in names


async def test_a_replayed_sign_in_link_is_refused(
    bot: BotHarness, fake: FakeTelegram, browser: Browser, console_url: str
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    path = await link_from_bot(bot, admin)
    first = await (await browser.new_context()).new_page()
    await first.goto(console_url + path)
    await first.get_by_role("button", name="Sign in").click()
    await first.wait_for_url(console_url + "/")
    other = await (await browser.new_context()).new_page()
    response = await other.goto(console_url + path)
    assert response is not None and response.status == 410
    assert "already been used" in await other.inner_text("main")


async def test_a_form_without_its_csrf_token_is_refused(
    bot: BotHarness, fake: FakeTelegram, browser: Browser, console_url: str
) -> None:
    midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
    page = await signed_in_page(bot, browser, console_url, midwife)
    await page.goto(console_url + "/links")
    await page.get_by_label("Clinic or team name").fill("Broomfield")
    await page.evaluate(
        "document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())"
    )
    async with page.expect_response(console_url + "/links") as posted:
        await page.get_by_role("button", name="Make link").click()
    assert (await posted.value).status == 403
    assert "could not be used" in await page.inner_text("main")
    await page.goto(console_url + "/links")
    assert "No links yet" in await page.inner_text("main")


async def test_a_midwife_is_refused_the_broadcast_page(
    bot: BotHarness, fake: FakeTelegram, browser: Browser, console_url: str
) -> None:
    midwife = await staff_member(bot, fake, StaffRole.MIDWIFE)
    page = await signed_in_page(bot, browser, console_url, midwife)
    assert await page.get_by_role("link", name="Broadcasts").count() == 0
    response = await page.goto(console_url + "/broadcasts")
    assert response is not None and response.status == 404
    assert await page.get_by_role("heading", level=1).inner_text() == "Page not found"


async def _focusables(page: Page) -> list[str]:
    # A group of radio buttons is one stop for Tab (arrow keys move within it), as browsers do.
    return list(
        await page.evaluate(
            """() => Array.from(document.querySelectorAll(
                 'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]'))
               .filter(e => e.tabIndex >= 0 && !e.disabled)
               .map((e, i) =>
                 (e.dataset.kbd = e.type === 'radio' ? 'radio:' + e.name : String(i)))"""
        )
    )


async def _tab_through(page: Page, count: int) -> set[str]:
    reached: set[str] = set()
    for _ in range(count + 5):
        await page.keyboard.press("Tab")
        mark = await page.evaluate("() => document.activeElement?.dataset?.kbd ?? null")
        if mark is not None:
            reached.add(mark)
    return reached


async def page_problems(page: Page, path: str, axe_source: str) -> list[str]:
    """axe (WCAG 2.1 A and AA, serious or critical), keyboard reach and 200% zoom, for one page."""
    await page.evaluate(axe_source)
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    problems = [
        f"{path}: {v['id']} ({v['impact']}): {v['nodes'][0]['target']}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    wanted = await _focusables(page)
    reached = await _tab_through(page, len(wanted))
    problems += [f"{path}: control {m} not reached by Tab" for m in set(wanted) - reached]
    await page.set_viewport_size(ZOOMED)
    sideways = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if sideways > 0:
        wide = await page.evaluate(
            """() => Array.from(document.querySelectorAll('body *'))
               .filter(e => e.getBoundingClientRect().right > window.innerWidth)
               .filter(e => !e.closest('.table-wrap'))
               .slice(0, 3).map(e => e.tagName + '.' + e.className)"""
        )
        problems.append(f"{path}: scrolls sideways by {sideways}px at 200% zoom: {wide}")
    await page.set_viewport_size({"width": 1280, "height": 900})
    return problems


async def chat_started(page: Page, console_url: str) -> None:
    """On Try it: /start sent to the sandbox bot, its first buttons showing."""
    await page.goto(console_url + "/try")
    await page.get_by_label("Message").fill("/start")
    await page.keyboard.press("Enter")
    await page.get_by_role("button", name="Yes, I agree").wait_for()


async def test_every_page_passes_axe_is_keyboard_usable_and_fits_at_200_percent_zoom(
    bot: BotHarness,
    fake: FakeTelegram,
    browser: Browser,
    console_url: str,
    axe_source: str,
    tmp_path: Path,
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    sign_in = await (await browser.new_context()).new_page()
    await sign_in.goto(console_url + "/signin")
    await sign_in.screenshot(path=str(shots / "signin.png"), full_page=True)
    problems = await page_problems(sign_in, "/signin", axe_source)
    page = await signed_in_page(bot, browser, console_url, admin)
    await page.set_viewport_size({"width": 1280, "height": 900})
    async with bot.session() as session, session.begin():
        from bot.services.staff.join_links import create_join_link

        await create_join_link(session, "Broomfield antenatal clinic", None, bot.clock.now())
    # A draft, for the broadcast's own page (preview, count, send and schedule).
    await page.goto(console_url + "/broadcasts")
    await page.get_by_label("Message").fill("Baby massage class, Tuesday 10am")
    await page.get_by_role("button", name="Preview and count").click()
    await page.wait_for_url(re.compile(r".*/broadcasts/\d+$"))
    draft = page.url.removeprefix(console_url)
    for path in [*PAGES, draft, "/try"]:
        if path == "/try":
            await chat_started(page, console_url)
        else:
            await page.goto(console_url + path)
        if path == "/broadcasts":
            await page.get_by_label("Message").fill("Baby massage class, Tuesday 10am")
            await page.locator("#preview-text", has_text="Baby massage class").wait_for()
        name = "broadcast" if path == draft else path.strip("/") or "overview"
        # The report's charts make a whole-page picture large: its first screen says enough.
        await page.screenshot(path=str(shots / f"{name}.png"), full_page=path != "/reports")
        problems += await page_problems(page, path, axe_source)
    assert problems == [], "\n".join(problems)


async def test_the_live_preview_follows_her_typing_and_the_audience_picker(
    bot: BotHarness, fake: FakeTelegram, browser: Browser, console_url: str
) -> None:
    for name, local_info in (("Amy", True), ("Beth", True), ("Cara", False)):
        await onboard(bot, fake.new_user(name), optional=(False, local_info, False))
    broadcaster = await staff_member(bot, fake, StaffRole.BROADCASTER)
    page = await signed_in_page(bot, browser, console_url, broadcaster)
    await page.goto(console_url + "/broadcasts")
    await page.get_by_label("Message").press_sequentially("Stay & Play <Friday>")
    preview = page.locator("#preview-text")
    await preview.filter(has_text="Stay & Play <Friday>").wait_for()
    assert "you said yes to local information" in await preview.inner_text()
    count = page.locator("#live-count")
    await count.filter(has_text="2 residents").wait_for()
    await page.get_by_label("Service announcement").check()
    await count.filter(has_text="3 residents").wait_for()
    await page.get_by_label("Some districts", exact=True).check()
    await count.filter(has_text="Finish choosing").wait_for()
    await page.get_by_label("Districts (for").select_option(label="Basildon")
    await count.filter(has_text="0 residents").wait_for()
    await page.get_by_label("Districts (for").select_option(label="Chelmsford")
    await count.filter(has_text="3 residents").wait_for()
    async with bot.session() as session:
        assert await session.scalar(select(Broadcast)) is None  # a preview stores nothing


async def test_try_it_by_keyboard_alone_signs_up_a_pretend_resident(
    bot: BotHarness, fake: FakeTelegram, browser: Browser, console_url: str
) -> None:
    moderator = await staff_member(bot, fake, StaffRole.MODERATOR)
    page = await signed_in_page(bot, browser, console_url, moderator)
    await page.get_by_role("link", name="Try it").click()
    # A mark the page keeps only while it is not reloaded: the chat changes in place.
    await page.evaluate("() => { window.stillHere = true; }")
    await page.get_by_label("Message").focus()
    await page.keyboard.type("/start")
    await page.keyboard.press("Enter")
    agree = page.get_by_role("button", name="Yes, I agree")
    await agree.wait_for()
    assert await page.evaluate("() => document.activeElement.id") == "chat-text"
    await agree.focus()
    await page.keyboard.press("Enter")
    await page.get_by_text("You pressed “Yes, I agree”").wait_for()
    assert await page.evaluate("() => window.stillHere === true")
    assert await page.evaluate("() => document.activeElement.id") == "chat-text"
    assert fake.messages(moderator)[-1].text is not None  # the real bot's fake saw none of it
    assert all("Yes, I agree" not in (m.text or "") for m in fake.messages(moderator))


async def test_an_upload_over_the_limit_shows_the_too_big_page(
    bot: BotHarness,
    fake: FakeTelegram,
    browser: Browser,
    console_url: str,
    axe_source: str,
    tmp_path: Path,
) -> None:
    admin = await staff_member(bot, fake, StaffRole.ADMIN)
    page = await signed_in_page(bot, browser, console_url, admin)
    await page.goto(console_url + "/content")
    big = tmp_path / "content.zip"
    await asyncio.to_thread(big.write_bytes, b"PK" + b"\0" * (3 * 1024 * 1024))
    await page.get_by_label("The content folder as a zip file").set_input_files(big)
    async with page.expect_response(console_url + "/content") as posted:
        await page.get_by_role("button", name=re.compile("Check and load|Upload|Load")).click()
    assert (await posted.value).status == 413
    assert "There is a problem" in await page.inner_text("main")
    assert "too big" in await page.locator(".error-summary").inner_text()
    shots = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    await page.screenshot(path=str(shots / "too_big.png"), full_page=True)
    assert await page_problems(page, "413", axe_source) == []


async def test_a_broadcast_sent_from_the_console_reaches_each_consenting_resident_once(
    bot: BotHarness, fake: FakeTelegram, browser: Browser, console_url: str
) -> None:
    residents = [fake.new_user(name) for name in ("Amy", "Beth", "Cara")]
    for resident, local_info in zip(residents, (True, True, False), strict=True):
        await onboard(bot, resident, optional=(False, local_info, False))
    broadcaster = await staff_member(bot, fake, StaffRole.BROADCASTER)
    page = await signed_in_page(bot, browser, console_url, broadcaster)
    await page.get_by_role("link", name="Broadcasts").click()
    await page.get_by_label("Message").fill("Baby massage class, Tuesday 10am: https://example.org")
    await page.get_by_role("button", name="Preview and count").click()
    assert "2 residents" in await page.locator("#count").inner_text()
    assert "Baby massage class" in await page.locator(".preview").inner_text()
    before = {r.id: len(fake.messages(r)) for r in residents}
    await page.get_by_role("button", name="Send to 2 residents").click()
    assert await page.locator("#progress-state").inner_text() == "Sending"
    await bot.send_queued()
    await page.locator("#progress-state", has_text="Finished").wait_for()
    assert await page.locator("#progress-sent").inner_text() == "2"
    got = {r.id: len(fake.messages(r)) - before[r.id] for r in residents}
    assert got == {residents[0].id: 1, residents[1].id: 1, residents[2].id: 0}
    async with bot.session() as session:
        sent = await session.scalar(select(Broadcast))
    assert sent is not None and sent.status.value == "done"
