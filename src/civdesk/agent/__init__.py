"""Civil servants who answer: agents, supervisors, administrators."""
