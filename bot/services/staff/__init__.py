"""Staff features: accounts and invitations, audit, moderation, join links, broadcasts."""
