"""Routing: triage, skills, capacity, queues, working hours, response targets and transfers."""
