"""Rituals: what the hub does on a schedule (the portfolio digest first; showcases and retros to come)."""
