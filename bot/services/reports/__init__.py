"""Council reports: counts by section, small-number suppression, HTML with charts, and CSV."""
