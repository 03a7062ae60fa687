"""Chat-platform adapters: they parse, ack, call one core service, and render."""
