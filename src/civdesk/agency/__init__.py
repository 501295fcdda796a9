"""Agencies (ministries, funds) and their topics (queues)."""
