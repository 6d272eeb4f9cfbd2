"""Where each resident is in a multi-step flow; the inbox keeping a chat's updates in order."""
