"""Conversations between a citizen and an agency, and their messages."""
