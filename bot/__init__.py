"""Bump Buddies: a council-run Telegram bot for mums-to-be."""

import os

# python-telegram-bot is moving time periods (RetryAfter.retry_after, durations, slow-mode delays)
# from int seconds to datetime.timedelta. Opting in before telegram is first imported makes them
# timedelta everywhere and silences the deprecation warning (an error under our test settings).
os.environ.setdefault("PTB_TIMEDELTA", "true")
