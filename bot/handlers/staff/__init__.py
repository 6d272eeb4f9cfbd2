"""Staff commands: accounts, join links, broadcasts, moderation, the council report."""
