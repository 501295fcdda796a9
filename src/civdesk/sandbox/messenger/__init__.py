"""A Facebook Messenger Platform emulator: the Graph API paths civdesk's adapter talks to, signed webhooks."""

from civdesk.sandbox.messenger.emulator import MessengerEmulator
from civdesk.sandbox.messenger.routes import create_router
from civdesk.sandbox.messenger.state import ERRORS, GraphApiError, PageSpec, SandboxError

__all__ = ["ERRORS", "GraphApiError", "MessengerEmulator", "PageSpec", "SandboxError", "create_router"]
