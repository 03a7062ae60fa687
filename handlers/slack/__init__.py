"""Slack adapter: Bolt listeners, Block Kit builders, and the Slack ChatPort."""
