"""A fake Telegram Bot API for tests and the local sandbox."""
