"""The agents' console: a server-rendered shell; everything else happens in its scripts over API v1."""
