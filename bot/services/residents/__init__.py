"""Residents: sign-up and profile, consent, due dates, life events, data rights, retention."""
