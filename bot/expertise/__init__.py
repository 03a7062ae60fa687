"""The expertise index: who knows what, from the evidence of what people did in the hub."""
