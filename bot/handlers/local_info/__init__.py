"""Local information: /services near her, the daily plan of what to send, the content watch."""
