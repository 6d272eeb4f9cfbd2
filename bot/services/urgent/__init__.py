"""Urgent help: spotting worrying messages, and who to call."""
