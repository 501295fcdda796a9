"""A thin client for the Viber REST Bot API: POST {api_base}/pa/<endpoint> with X-Viber-Auth-Token.

Viber answers application errors with HTTP 200 and {"status": <non-zero>, "status_message": ...};
only transport trouble shows in the HTTP status. The token goes in a header of API calls only, never
to the hosts media is downloaded from.
"""

from __future__ import annotations

import re
from email.message import Message
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

DEFAULT_API_BASE = "https://chatapi.viber.com"
AUTH_HEADER = "X-Viber-Auth-Token"
_USER_AGENT = "civdesk-viber/1"


class ViberApiError(Exception):
    """Viber answered with a non-zero status."""

    def __init__(self, status: int, status_message: str) -> None:
        super().__init__(f"Viber status {status}: {status_message}")
        self.status = status
        self.status_message = status_message


class ViberTransportError(Exception):
    """No usable answer: connection trouble, an HTTP error status or a body that is not Viber's JSON."""

    def __init__(self, reason: str, *, http_status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        self.retry_after = retry_after


class ViberClient:
    def __init__(self, *, token: str, api_base: str = DEFAULT_API_BASE, timeout: float = 30.0) -> None:
        self._token = token
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout, headers={"User-Agent": _USER_AGENT})

    def __repr__(self) -> str:  # the token stays out
        return f"ViberClient(api_base={self.api_base!r})"

    async def call(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """POSTs `body` to /pa/<endpoint>; returns the answer when its status is 0."""
        url = f"{self.api_base}/pa/{endpoint}"
        try:
            reply = await self._http.post(url, json=body, headers={AUTH_HEADER: self._token})
        except httpx.TimeoutException:
            raise ViberTransportError(f"Viber did not answer {endpoint} in time") from None
        except httpx.HTTPError as exc:
            raise ViberTransportError(f"could not reach Viber at {self.api_base}: {exc.__class__.__name__}") from None
        if reply.status_code != 200:
            raise ViberTransportError(f"Viber answered {endpoint} with HTTP {reply.status_code}",
                                      http_status=reply.status_code, retry_after=_retry_after(reply))
        try:
            data = reply.json()
        except ValueError:
            raise ViberTransportError(f"Viber's answer to {endpoint} is not JSON", http_status=200) from None
        status = data.get("status") if isinstance(data, dict) else None
        if isinstance(status, bool) or not isinstance(status, int):
            raise ViberTransportError(f"Viber's answer to {endpoint} has no status", http_status=200)
        if status != 0:
            message = data.get("status_message")
            raise ViberApiError(status, message if isinstance(message, str) else "")
        return data  # type: ignore[no-any-return]

    async def download(self, url: str, *, max_bytes: int) -> tuple[bytes, str, str | None]:
        """GETs a media URL from a callback: (data, mime type, file name if known)."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise ViberTransportError("a Viber media reference must be an http(s) URL", http_status=400)
        try:
            async with self._http.stream("GET", url, follow_redirects=True) as reply:
                if reply.status_code != 200:
                    raise ViberTransportError(f"the media URL answered HTTP {reply.status_code}",
                                              http_status=reply.status_code)
                chunks: list[bytes] = []
                size = 0
                async for chunk in reply.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        # Reported as 413 so that callers see it will not get better by retrying.
                        raise ViberTransportError(f"the file is larger than {max_bytes} bytes", http_status=413)
                    chunks.append(chunk)
                mime = reply.headers.get("content-type", "").split(";")[0].strip() or "application/octet-stream"
                return b"".join(chunks), mime, _file_name(reply)
        except httpx.TimeoutException:
            raise ViberTransportError("the media URL did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ViberTransportError(f"could not download the media: {exc.__class__.__name__}") from None

    async def aclose(self) -> None:
        await self._http.aclose()


def _retry_after(reply: httpx.Response) -> float | None:
    try:
        return max(float(reply.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return None


def _file_name(reply: httpx.Response) -> str | None:
    disposition = reply.headers.get("content-disposition")
    if disposition:
        header = Message()
        header["content-disposition"] = disposition
        name = header.get_filename()
        if name:
            return name
    last = unquote(reply.url.path.rsplit("/", 1)[-1])
    return last if re.search(r"\.[A-Za-z0-9]{1,8}$", last) else None
