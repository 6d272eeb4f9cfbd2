"""Council reports: counts by section, protected by rounding (protection.py), HTML and CSV."""
