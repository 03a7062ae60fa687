"""The console adapter: the same core in a terminal, for trying Hubspoke and for development."""
