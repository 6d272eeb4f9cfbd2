"""The kinds of queued message that features other than planning and broadcasts put on the queue.

A delivery row's `kind` says what it is, so a withdrawal cancels exactly its own kinds and the
council report counts every message the bot sent on its own initiative.
"""

from __future__ import annotations

# Matching: a request to say hello, the other's contact once both agreed, "not this time", and
# the daily "new mums near you".
MATCH_REQUEST = "match_request"
MATCH_INTRODUCTION = "match_intro"
MATCH_NOT_THIS_TIME = "match_news"
MATCH_DIGEST = "match_digest"
# What withdrawing the matching consent stops at once.
MATCHING = (MATCH_REQUEST, MATCH_INTRODUCTION, MATCH_NOT_THIS_TIME, MATCH_DIGEST)
# "How are we doing?" questions; withdrawing the feedback consent stops them.
FEEDBACK_PROMPT = "feedback"
# A moderator's warning or suspension, told to the resident it concerns.
MODERATION_NOTICE = "moderation"
