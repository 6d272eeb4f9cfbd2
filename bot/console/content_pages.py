"""Council content from the console: upload a zip of the content folder, check it, load it.

The checks and the load are `bumpbuddies content check` and `content load`'s own (read_content,
store_content); the load replaces everything in this request's one transaction, so it is all or
nothing, and every bot worker picks it up within a minute (its content watch job).

Admins only (Permission.CONTENT), asked of the bot's own authorise() like every other page.
"""

from __future__ import annotations

import asyncio
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.responses import Response

from bot.console.web import Ctx, staff_page
from bot.services.local_info.content import ContentSet, store_content
from bot.services.local_info.content_files import ContentInvalid, read_content
from bot.services.places.geo import Gazetteer
from bot.services.staff.accounts import Permission
from models import ContentLibrary

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
# Unpacked, the files may not be more than this, nor more than this many: a zip bomb stops here.
MAX_UNPACKED_BYTES = 10 * 1024 * 1024
MAX_FILES = 50


class Refused(Exception):
    """The upload is not a content folder we will open."""


@dataclass(frozen=True)
class Checked:
    """What a check found: the content, or its problems as file:line: what's wrong."""

    content: ContentSet | None
    problems: list[str]


def _members(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    files = [info for info in archive.infolist() if not info.is_dir()]
    if len(files) > MAX_FILES:
        raise Refused(f"The zip has more than {MAX_FILES} files")
    if sum(info.file_size for info in files) > MAX_UNPACKED_BYTES:
        raise Refused("The zip's files are too big once unpacked")
    paths = []
    for info in files:
        name = info.filename
        path = PurePosixPath(name)
        if "\\" in name or path.is_absolute() or ".." in path.parts or ":" in name:
            raise Refused(f"{name}: files must be inside the content folder")
        # A symbolic link could point anywhere on the server.
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise Refused(f"{name}: links are not allowed, only files")
        paths.append((info, path))
    # Zipping the folder itself puts every file under one top folder: look inside it.
    tops = {path.parts[0] for _, path in paths if len(path.parts) > 1}
    if len(tops) == 1 and all(len(path.parts) > 1 for _, path in paths):
        paths = [(info, PurePosixPath(*path.parts[1:])) for info, path in paths]
    return paths


def check_zip(data: bytes, gazetteer: Gazetteer) -> Checked:
    """Unpack into a fresh folder (only inside it) and check it as `content check` does."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise Refused("That file is not a zip file") from None
    with archive, tempfile.TemporaryDirectory(prefix="bb-content-") as folder:
        root = Path(folder)
        for info, path in _members(archive):
            target = root.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
        try:
            return Checked(read_content(root, gazetteer), [])
        except ContentInvalid as exc:
            return Checked(None, [f"{p.file}:{p.line}: {p.message}" for p in exc.problems])


async def _page(ctx: Ctx, **values: object) -> Response:
    loaded = await ctx.db.scalar(select(ContentLibrary).order_by(ContentLibrary.id.desc()).limit(1))
    error = values.get("error")
    return ctx.page(
        "content.html",
        loaded=loaded,
        limit_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
        error_field="upload",
        status_code=400 if error or values.get("problems") else 200,
        **values,
    )


@staff_page(Permission.CONTENT, "content.show")
async def content_page(ctx: Ctx) -> Response:
    """What is loaded, and the upload form."""
    return await _page(ctx)


@staff_page(Permission.CONTENT, "content.load", max_bytes=MAX_UPLOAD_BYTES + 64 * 1024)
async def content_upload(ctx: Ctx) -> Response:
    """Check the uploaded folder; load it (all or nothing) only if it has no problems."""
    assert ctx.form is not None
    upload = ctx.form.get("upload")
    if not isinstance(upload, UploadFile):
        return await _page(ctx, error="Choose a zip file of the content folder")
    data = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return await _page(ctx, error="The zip file is too big")
    try:
        checked = await asyncio.to_thread(check_zip, data, ctx.state.gazetteer)
    except Refused as exc:
        return await _page(ctx, error=str(exc))
    if checked.content is None:
        return await _page(
            ctx, error="The content has problems; nothing was loaded", problems=checked.problems
        )
    content = checked.content
    if content.sample and ctx.form.get("allow_sample") != "yes":
        return await _page(
            ctx,
            error="These files are marked sample: true. Review them and set sample: false, or "
            "tick the box to load them for trying out",
        )
    digests = await store_content(ctx.db, content, ctx.state.gazetteer, ctx.now)
    return await _page(
        ctx,
        done=f"Loaded {len(content.weeks)} week messages and {len(content.services)} services "
        f"({digests} neighbourhood digests). The bot uses them within a minute.",
    )
