"""The one delivery engine for everything the bot sends in bulk (scheduled info, broadcasts)."""
