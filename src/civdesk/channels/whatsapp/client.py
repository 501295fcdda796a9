"""A thin Graph API client: the five WhatsApp Cloud API calls civdesk makes, and its error envelope.

Why not pywa (4.5.0): its GraphAPI hard-codes ``https://graph.facebook.com`` as the session's base URL
(no option for a sandbox host), its update types need a client instance to parse, and we use a handful
of endpoints whose JSON is simpler than pywa's builders around it. httpx is already a dependency.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

JsonDict = dict[str, Any]
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class GraphError(Exception):
    """The Graph API's error envelope ``{"error": {"message", "type", "code", "error_subcode", "error_data"}}``."""

    # A plain class, not a frozen dataclass: raise machinery and contextlib assign __traceback__.
    def __init__(self, *, http_status: int, code: int, message: str, details: str | None = None,
                 subcode: int | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.message = message
        self.details = details
        self.subcode = subcode
        self.kind = kind

    def __str__(self) -> str:
        extra = f" ({self.details})" if self.details else ""
        return f"{self.code} {self.message}{extra}"


class TransportError(Exception):
    """No answer (connection refused, timeout) or one that is not the Graph API's."""


def parse_error(http_status: int, body: bytes) -> GraphError:
    """Any 4xx/5xx answer as a GraphError; a body that is not the envelope keeps the HTTP status as code."""
    try:
        raw = json.loads(body)
        error = raw["error"]
        code = int(error["code"])
    except (ValueError, KeyError, TypeError):
        return GraphError(http_status=http_status, code=http_status, message=f"HTTP {http_status}")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else (data if isinstance(data, str) else None)
    subcode = error.get("error_subcode")
    return GraphError(
        http_status=http_status,
        code=code,
        message=str(error.get("message") or ""),
        details=str(details) if details else None,
        subcode=subcode if isinstance(subcode, int) else None,
        kind=str(error["type"]) if error.get("type") else None,
    )


class GraphClient:
    """One per business phone number (and event loop); the access token travels only in the header."""

    def __init__(self, *, api_base: str, api_version: str, token: str, phone_number_id: str) -> None:
        self.phone_number_id = phone_number_id
        self._http = httpx.AsyncClient(
            base_url=f"{api_base.rstrip('/')}/{api_version.strip('/')}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=_TIMEOUT,
        )

    def __repr__(self) -> str:
        return f"GraphClient(phone_number_id={self.phone_number_id!r})"

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            reply = await self._http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            # The exception text may carry the URL; ours never carries the token (it is a header).
            raise TransportError(f"{exc.__class__.__name__} talking to the Graph API") from None
        if reply.status_code >= 400:
            raise parse_error(reply.status_code, reply.content)
        return reply

    async def _json(self, method: str, url: str, **kwargs: Any) -> JsonDict:
        reply = await self._call(method, url, **kwargs)
        try:
            data = reply.json()
        except ValueError:
            raise TransportError(f"the Graph API answered {url} with something that is not JSON") from None
        if not isinstance(data, dict):
            raise TransportError(f"the Graph API answered {url} with a JSON {type(data).__name__}")
        return data

    async def send(self, payload: JsonDict) -> str:
        """POST /{phone_number_id}/messages; returns the wamid that status webhooks will refer to."""
        body = {"messaging_product": "whatsapp", **payload}
        data = await self._json("POST", f"/{self.phone_number_id}/messages", json=body)
        try:
            return str(data["messages"][0]["id"])
        except (KeyError, IndexError, TypeError):
            raise TransportError("the send answer has no messages[0].id") from None

    async def upload(self, *, data: bytes, mime_type: str, name: str) -> str:
        """POST /{phone_number_id}/media (multipart); returns the media id to send by."""
        files = {"file": (name, data, mime_type)}
        form = {"messaging_product": "whatsapp", "type": mime_type}
        answer = await self._json("POST", f"/{self.phone_number_id}/media", files=files, data=form)
        media_id = answer.get("id")
        if not media_id:
            raise TransportError("the upload answer has no id")
        return str(media_id)

    async def media_info(self, media_id: str) -> JsonDict:
        """GET /{media_id}: ``{url, mime_type, sha256, file_size, id}``; the url lives about five minutes."""
        return await self._json("GET", f"/{media_id}")

    async def download(self, url: str) -> httpx.Response:
        """The media URL wants the same Bearer token; an absolute URL bypasses base_url."""
        return await self._call("GET", url)

    async def phone_number(self) -> JsonDict:
        fields = "id,display_phone_number,verified_name,quality_rating"
        return await self._json("GET", f"/{self.phone_number_id}", params={"fields": fields})

    async def override_callback(self, *, url: str, verify_token: str) -> JsonDict:
        """Sets this number's alternate callback URL; Meta verifies it with the GET handshake first."""
        config = {"webhook_configuration": {"override_callback_uri": url, "verify_token": verify_token}}
        return await self._json("POST", f"/{self.phone_number_id}", json=config)

    async def subscribe_app(self, waba_id: str) -> JsonDict:
        """POST /{waba_id}/subscribed_apps: without it no webhook of this account reaches the app."""
        return await self._json("POST", f"/{waba_id}/subscribed_apps")
