"""The one delivery engine for every message a resident did not just ask for."""
