"""How Slack refers to people: user ids (`U123`, `W123` on Enterprise Grid) and `<@U123|name>` mentions."""

from __future__ import annotations

import re

from intake.people import SLACK, PersonRef

# Slack user ids: U or W and upper-case letters and digits.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
MENTION = re.compile(r"<@([UW][A-Z0-9]{2,31})(?:\|([^>]*))?>")


def slack_ref(user_id: str, name: str | None = None) -> PersonRef:
    """The person behind a Slack user id."""
    return PersonRef(SLACK, user_id, name)
