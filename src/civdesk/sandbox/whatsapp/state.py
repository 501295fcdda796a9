"""The WhatsApp emulator's state, its Graph API errors, and the webhook shapes it builds: plain data, no I/O."""

from __future__ import annotations

import base64
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]
DAY = 24 * 3600.0
WINDOW_SECONDS = DAY  # the customer service window: free-form messages only within 24 h of the last inbound


class SandboxError(Exception):
    """Misuse of the sandbox's own API (citizen side, control); ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class GraphApiError(Exception):
    """A Graph API failure, answered as ``{"error": {...}}`` with ``status`` as the HTTP status."""

    def __init__(self, status: int, code: int, message: str, *, details: str | None = None,
                 subcode: int | None = None, kind: str = "OAuthException", title: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.subcode = subcode
        self.kind = kind
        self.title = title or message

    def body(self, trace_id: str) -> JsonDict:
        error: JsonDict = {"message": self.message, "type": self.kind, "code": self.code}
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = trace_id
        return {"error": error}

    def webhook_error(self) -> JsonDict:
        """The same error as it appears in a ``failed`` status (statuses[].errors[])."""
        error: JsonDict = {"code": self.code, "title": self.title, "message": self.title,
                           "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}
        if self.details:
            error["error_data"] = {"details": self.details}
        return error


# The documented errors fail_next() can inject: code → (HTTP status, message, title, details, subcode).
# Titles and details follow Meta's error-code table (as mirrored in pywa/errors.py and its tests).
ERRORS: dict[int, tuple[int, str, str, str | None, int | None]] = {
    131047: (400, "(#131047) Re-engagement message", "Re-engagement message",
             "Message failed to send because more than 24 hours have passed since the customer last replied "
             "to this number.", None),
    130429: (400, "(#130429) Rate limit hit", "Rate limit hit",
             "Cloud API message throughput has been reached.", None),
    131056: (400, "(#131056) (Business Account, Consumer Account) pair rate limit hit", "Pair rate limit hit",
             "Too many messages sent from the sender phone number to the same recipient phone number in a short "
             "period of time.", None),
    131026: (400, "(#131026) Message Undeliverable", "Message Undeliverable",
             "Message failed to send because the recipient is not a WhatsApp user, uses an old app, or has not "
             "accepted the terms.", None),
    131050: (400, "(#131050) User has stopped marketing messages", "Unable to deliver the message",
             "The user has chosen to stop receiving marketing messages.", None),
    131030: (400, "(#131030) Recipient phone number not in allowed list", "Recipient not in allowed list",
             "Recipient phone number not in allowed list: add it in the App Dashboard.", None),
    131053: (400, "(#131053) Media upload error", "Media upload error",
             "Downloading media from weblink failed with http code 429, status message Too Many Requests", None),
    131000: (500, "(#131000) Something went wrong", "Something went wrong", "Something went wrong", None),
    80007: (400, "(#80007) Rate limit issues", "Rate limit issues",
            "The WhatsApp Business Account has reached its rate limit.", None),
    132001: (400, "(#132001) Template name does not exist in the translation", "Template does not exist",
             "template name does not exist in the language", None),
    190: (401, "Error validating access token: Session has expired.", "Access token has expired", None, 463),
    100: (400, "(#100) Invalid parameter", "Invalid parameter", None, None),
}


def documented_error(code: int, *, details: str | None = None) -> GraphApiError:
    status, message, title, default_details, subcode = ERRORS[code]
    return GraphApiError(status, code, message, details=details or default_details, subcode=subcode, title=title)


def invalid_param(details: str) -> GraphApiError:
    return GraphApiError(400, 100, "(#100) Invalid parameter", details=details, title="Invalid parameter")


def no_such_object(node_id: str) -> GraphApiError:
    return GraphApiError(400, 100, f"Unsupported request - method type: get. Object with ID '{node_id}' does not "
                         "exist, cannot be loaded due to missing permissions, or does not support this operation.",
                         subcode=33)


def bad_token() -> GraphApiError:
    return GraphApiError(401, 190, "Invalid OAuth access token - Cannot parse access token")


@dataclass(frozen=True)
class NumberSpec:
    phone_number_id: str
    display_phone_number: str
    verified_name: str
    token: str = field(repr=False)
    app_secret: str = field(repr=False)
    waba_id: str = "102290129340398"


# Lets a newcomer open /sandbox/whatsapp/ and chat at once; real setups add their own numbers.
DEMO_NUMBER = NumberSpec(phone_number_id="1000000000001", display_phone_number="380800000001",
                         verified_name="Держслужба (демо)", token="sandbox-whatsapp-demo-token",
                         app_secret="sandbox-whatsapp-demo-secret")


@dataclass
class Failure:
    code: int
    times: int
    endpoint: str


@dataclass
class Webhook:
    url: str
    verify_token: str = field(repr=False)


@dataclass
class Queued:
    body: JsonDict
    push_id: int


@dataclass
class User:
    wa_id: str
    name: str
    last_inbound: float | None = None
    marketing_stopped: bool = False
    pair_tokens: float = 0.0
    pair_checked: float = 0.0
    transcript: list[JsonDict] = field(default_factory=list)


@dataclass
class Media:
    data: bytes = field(repr=False)
    mime_type: str
    sha256: str
    owner: str  # phone_number_id
    filename: str | None = None


@dataclass
class NumberState:
    spec: NumberSpec
    webhook: Webhook | None = None
    users: dict[str, User] = field(default_factory=dict)
    outbound: dict[str, JsonDict] = field(default_factory=dict)  # wamid -> what the business sent
    sends: list[JsonDict] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    queue: list[Queued] = field(default_factory=list)
    batch: list[JsonDict] | None = None
    duplicate_pushes: int = 0
    deliveries: list[JsonDict] = field(default_factory=list)
    send_times: deque[float] = field(default_factory=deque)
    app_subscribed: bool = False


def fresh_id_base() -> int:
    # A restarted sandbox must not reuse ids a persistent civdesk database has seen and would dedupe.
    return 1 + (int(time.time()) % 1_000_000_000)


def wamid(tag: str, id_base: int, n: int) -> str:
    raw = f"civdesk-sandbox:{tag}:{id_base}:{n}".encode()
    return "wamid." + base64.b64encode(raw).decode()


def envelope(spec: NumberSpec, changes: list[JsonDict]) -> JsonDict:
    return {"object": "whatsapp_business_account", "entry": [{"id": spec.waba_id, "changes": changes}]}


def metadata(spec: NumberSpec) -> JsonDict:
    return {"display_phone_number": spec.display_phone_number, "phone_number_id": spec.phone_number_id}


def message_change(spec: NumberSpec, user: User, message: JsonDict) -> JsonDict:
    value = {"messaging_product": "whatsapp", "metadata": metadata(spec),
             "contacts": [{"profile": {"name": user.name}, "wa_id": user.wa_id}], "messages": [message]}
    return {"value": value, "field": "messages"}


def status_change(spec: NumberSpec, *, message_id: str, status: str, recipient: str, at: float,
                  error: GraphApiError | None = None) -> JsonDict:
    item: JsonDict = {"id": message_id, "status": status, "timestamp": str(int(at)), "recipient_id": recipient}
    if error is not None:
        item["errors"] = [error.webhook_error()]
    else:
        item["conversation"] = {"id": f"conv-{recipient}", "origin": {"type": "service"}}
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    value = {"messaging_product": "whatsapp", "metadata": metadata(spec), "statuses": [item]}
    return {"value": value, "field": "messages"}


def preference_change(spec: NumberSpec, user: User, *, choice: str, at: float) -> JsonDict:
    detail = {"stop": "User requested to stop marketing messages",
              "resume": "User requested to resume marketing messages"}[choice]
    value = {"messaging_product": "whatsapp", "metadata": metadata(spec),
             "contacts": [{"profile": {"name": user.name}, "wa_id": user.wa_id}],
             "user_preferences": [{"wa_id": user.wa_id, "detail": detail, "category": "marketing_messages",
                                   "value": choice, "timestamp": int(at)}]}
    return {"value": value, "field": "user_preferences"}


def interactive_choices(payload: JsonDict) -> dict[str, tuple[str, str]]:
    """id → (reply type, title) for the buttons or list rows of an interactive message we sent."""
    interactive = payload.get("interactive") or {}
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return {b["reply"]["id"]: ("button_reply", b["reply"]["title"]) for b in action.get("buttons", [])}
    if interactive.get("type") == "list":
        return {row["id"]: ("list_reply", row["title"])
                for section in action.get("sections", []) for row in section.get("rows", [])}
    return {}
