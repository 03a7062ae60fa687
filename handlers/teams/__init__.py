"""Microsoft Teams: the Bot Framework transport and Adaptive Card renderers on the one conversation core."""
