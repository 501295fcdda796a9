"""A Viber REST Bot API emulator: what the Viber adapter talks to in tests and in the demo."""

from civdesk.sandbox.viber.emulator import AccountSpec, SandboxError, ViberApiError, ViberEmulator
from civdesk.sandbox.viber.routes import create_router
from civdesk.sandbox.viber.webhook import sign

# Lets a newcomer open the page and chat at once; real setups pass their own emulator and accounts.
DEMO_ACCOUNT = AccountSpec(token="civdesk-sandbox-viber-demo", name="Держслужба (демо)", uri="civdesk_demo")

__all__ = ["DEMO_ACCOUNT", "AccountSpec", "SandboxError", "ViberApiError", "ViberEmulator", "create_router", "sign"]
