"""Local information: the council's content, and the daily plan of what to send."""
