"""Telegram handlers: thin callbacks that parse the update and call services."""
