"""Matching: suggestions, hellos and introductions, cohort groups, news, safety, rights."""
