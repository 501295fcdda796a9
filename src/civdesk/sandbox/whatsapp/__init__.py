"""A WhatsApp Business Cloud API emulator: the Graph API paths, signed webhooks, the citizen's side."""

from civdesk.sandbox.whatsapp.emulator import WhatsAppEmulator
from civdesk.sandbox.whatsapp.routes import create_router
from civdesk.sandbox.whatsapp.state import DEMO_NUMBER, GraphApiError, NumberSpec, SandboxError

__all__ = ["DEMO_NUMBER", "GraphApiError", "NumberSpec", "SandboxError", "WhatsAppEmulator", "create_router"]
