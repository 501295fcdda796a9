"""Agents' presence: online, away or offline, set by the agent and dropped when the console goes away."""
