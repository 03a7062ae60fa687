"""Hubspoke: the chat bot that runs an AI Center of Excellence and its spokes."""
