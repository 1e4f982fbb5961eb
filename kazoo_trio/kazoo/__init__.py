"""The mod_kazoo server: requests, bgapi jobs, event streams, fetch agents, profiles."""
