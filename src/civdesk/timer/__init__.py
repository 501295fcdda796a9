"""Timers: rows with a due time, fired by the workers within seconds of it."""
