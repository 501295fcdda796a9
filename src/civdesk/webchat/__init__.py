"""The citizen web chat: anonymous sessions with signed tokens, transcript, live replies."""
