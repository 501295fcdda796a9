"""The Messenger emulator's state, its error catalogue and the payload shapes: plain data, no locks, no I/O."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

VERSION_RE = re.compile(r"^v\d{1,3}\.\d{1,2}$")
ENDPOINTS = ("messages", "message_attachments", "me", "subscribed_apps", "messenger_profile")
# The webhook fields a Page can subscribe an app to, and the field each event is delivered under.
FIELDS = ("messages", "message_echoes", "messaging_postbacks", "message_deliveries", "message_reads")
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
TAGS = ("HUMAN_AGENT", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE")
WINDOW_SECONDS = 24 * 3600  # standard messaging: replies within 24 h of the person's last message
HUMAN_AGENT_SECONDS = 7 * 24 * 3600  # the HUMAN_AGENT tag: 7 days
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_FILE_BYTES = 25 * 1024 * 1024
MEDIA_TYPES = ("image", "video", "audio", "file")


class GraphApiError(Exception):
    """A Graph API failure in Meta's envelope; ``headers`` carry usage statistics for rate limits."""

    def __init__(self, status: int, code: int, message: str, *, subcode: int | None = None,
                 error_type: str = "OAuthException", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.error_type = error_type
        self.headers = headers or {}

    def body(self) -> JsonDict:
        error: JsonDict = {"message": self.message, "type": self.error_type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = secrets.token_urlsafe(8)
        return {"error": error}


class SandboxError(Exception):
    """Misuse of the sandbox's own API (citizen side, control); ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Fault:
    status: int
    code: int
    message: str
    subcode: int | None = None
    error_type: str = "OAuthException"


# Each documented error fail_next can inject. Codes and texts: messenger-platform/error-codes (Mar 2026) and
# the older Send API error-codes reference; 551 and 10/2018278 are what Meta answers in practice.
ERRORS: dict[str, Fault] = {
    "invalid_token": Fault(400, 190, "Invalid OAuth access token - Cannot parse access token"),
    "app_rate_limit": Fault(400, 4, "(#4) Application request limit reached"),
    "page_rate_limit": Fault(400, 32, "(#32) Page request limit reached"),
    "send_rate_limit": Fault(400, 613, "(#613) Calls to this api have exceeded the rate limit."),
    "user_unavailable": Fault(400, 551, "(#551) This person isn't available right now.", 1545041),
    "outside_window": Fault(400, 10, "(#10) This message is sent outside of allowed window. Learn more about the new "
                                     "policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
                            2018278),
    "no_matching_user": Fault(400, 100, "(#100) No matching user found", 2018001),
    "permission": Fault(400, 200, "(#200) Cannot message users who are not admins, developers or testers of the app "
                                  "until pages_messaging permission is reviewed and the app is live.", 2018028),
    "temporary_failure": Fault(500, 1200, "(#1200) Temporary send message failure. Please try again later"),
    "unexpected": Fault(500, 2, "An unexpected error has occurred. Please retry your request later."),
}


def fault_error(fault: Fault, regain_minutes: int | None = None) -> GraphApiError:
    headers: dict[str, str] = {}
    if regain_minutes is not None:
        # Graph rate-limiting doc: X-Business-Use-Case-Usage, {"<business id>": [{…, estimated_time_to_regain_access}]}
        usage = {"0": [{"type": "messenger", "call_count": 100, "total_cputime": 10, "total_time": 10,
                        "estimated_time_to_regain_access": regain_minutes}]}
        headers["X-Business-Use-Case-Usage"] = json.dumps(usage)
    return GraphApiError(fault.status, fault.code, fault.message, subcode=fault.subcode,
                         error_type=fault.error_type, headers=headers)


@dataclass(frozen=True)
class PageSpec:
    page_id: str
    name: str
    token: str
    app_secret: str
    app_id: str = "1000000000000001"
    app_name: str = "civdesk"
    # "Require App Secret" in the app's advanced settings: every call must carry appsecret_proof.
    require_appsecret_proof: bool = True
    # Already subscribed to the app (POST /me/subscribed_apps), for demos that skip that step.
    subscribed: bool = False


@dataclass
class Failure:
    fault: Fault
    endpoint: str
    times: int
    regain_minutes: int | None = None


@dataclass
class Queued:
    seq: int
    field: str
    event: JsonDict


@dataclass
class Citizen:
    psid: str
    name: str
    last_inbound: float
    blocked: bool = False
    transcript: list[JsonDict] = field(default_factory=list)


@dataclass
class Page:
    spec: PageSpec
    webhook_url: str | None = None
    subscribed_fields: list[str] = field(default_factory=list)
    profile: JsonDict = field(default_factory=dict)
    citizens: dict[str, Citizen] = field(default_factory=dict)
    queue: list[Queued] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    duplicate_pushes: int = 0
    sends: list[JsonDict] = field(default_factory=list)
    attachments: dict[str, JsonDict] = field(default_factory=dict)  # attachment_id -> {type, url}
    pushes: list[JsonDict] = field(default_factory=list)  # every webhook attempt, for tests
    last_error: str | None = None


def now_ms() -> int:
    return int(time.time() * 1000)


def new_mid() -> str:
    return "m_" + secrets.token_urlsafe(36)


def signatures(app_secret: str, body: bytes) -> dict[str, str]:
    """Both headers Meta sends: the sha256 one, and the legacy sha1 one its own sample app still checks."""
    key = app_secret.encode()
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
            "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest()}


def envelope(page_id: str, events: list[JsonDict]) -> bytes:
    """One POST body: an entry per event (Meta puts exactly one event in each messaging array). Non-ASCII is
    escaped as \\uXXXX and there is no whitespace, as in Meta's own bodies; the signature covers these bytes."""
    entries = [{"id": page_id, "time": now_ms(), "messaging": [event]} for event in events]
    return json.dumps({"object": "page", "entry": entries}, separators=(",", ":"), ensure_ascii=True).encode()


def base_event(sender: str, recipient: str, **body: Any) -> JsonDict:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": now_ms(), **body}


def media_type(mime: str) -> str:
    mime = mime.lower()
    for kind in ("image", "video", "audio"):
        if mime.startswith(kind + "/"):
            return kind
    return "file"
