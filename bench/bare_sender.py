"""The yardstick for paid broadcasts: the simplest loop of raw HTTP posts, no database, no engine.

`python -m bench.bare_sender CHATS_FILE CONNECTIONS`, with BOT_API_BASE_URL and TELEGRAM_BOT_TOKEN
set: CONNECTIONS workers, each with one keep-alive connection of its own (the same `JsonPoster`
the bot's bulk sender uses), post sendMessage with allow_paid_broadcast to every chat in the JSON
list, one request in flight per connection. Nothing is paced, retried or parsed. The request head
is prepared once, as the bot's sender does, so the two differ only in what the bot does around
each post.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from bot.delivery.http import JsonPoster

TEXT = "<b>Service update</b>: Bump Buddies is moving to a new privacy notice on 1 January."


async def send_all(address: str, chats: list[int], connections: int) -> None:
    """Post one message to each chat over `connections` connections."""
    pending = iter(chats)

    async def worker() -> None:
        poster = JsonPoster(address)
        try:
            for chat in pending:
                body = {
                    "chat_id": chat,
                    "text": TEXT,
                    "parse_mode": "HTML",
                    "allow_paid_broadcast": True,
                }
                await poster.post(json.dumps(body).encode())
        finally:
            await poster.aclose()

    await asyncio.gather(*(worker() for _ in range(connections)))


def main() -> None:
    """Read the chats and the connection count from argv, the fake's address from the env."""
    chats_file, connections = sys.argv[1], int(sys.argv[2])
    chats = json.loads(Path(chats_file).read_text(encoding="utf-8"))
    url = f"{os.environ['BOT_API_BASE_URL']}{os.environ['TELEGRAM_BOT_TOKEN']}/sendMessage"
    asyncio.run(send_all(url, chats, connections))


if __name__ == "__main__":
    main()
