"""The use-case domain: intake, triage, routing, review decisions, lifecycle."""
