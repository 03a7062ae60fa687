"""Loopback fakes of the services Hubspoke talks to."""
