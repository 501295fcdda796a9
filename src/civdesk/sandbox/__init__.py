"""Local emulators of the messengers' HTTP APIs, speaking their real protocols.

The tests drive civdesk through them, and a person can chat as a citizen on the sandbox page
without any real bot token. See :func:`civdesk.sandbox.app.create_sandbox_app`.
"""
