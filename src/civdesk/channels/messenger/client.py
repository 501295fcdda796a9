"""A thin Graph API client over httpx: every Messenger library on PyPI has been abandoned since 2018-2020.

Only what civdesk uses: JSON and multipart POSTs and GETs under ``{api_base}/{version}/``, the Page token
as ``access_token`` with its ``appsecret_proof``, Graph's error envelope turned into GraphError, and
downloads of attachment URLs (which are signed CDN links and get no credentials).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from civdesk.core import redact

# httpx logs every request URL at INFO, and Meta's documented form puts the Page token in the query string
# (access_token=…): the shared filter blanks it out of those records.
redact.install("httpx")
# developers.facebook.com/docs/graph-api/overview/rate-limiting: usage headers, values in percent and
# "estimated_time_to_regain_access" in minutes.
_USAGE_HEADERS = ("x-business-use-case-usage", "x-page-usage", "x-app-usage")
_FILENAME_RE = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


class GraphError(Exception):
    """An answer of the Graph API that is not a success, or no answer at all (status 0)."""

    def __init__(self, *, status: int, message: str, code: int | None = None, subcode: int | None = None,
                 error_type: str | None = None, regain_seconds: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.regain_seconds = regain_seconds


def appsecret_proof(*, token: str, app_secret: str) -> str:
    """hex HMAC-SHA256 keyed by the app secret over the access token (Graph "Securing requests")."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Download:
    data: bytes
    mime_type: str
    name: str | None


@dataclass(frozen=True)
class GraphClient:
    """Credentials per call on a shared httpx client; the client itself holds no secret."""

    http: httpx.AsyncClient
    api_base: str
    api_version: str
    token: str
    app_secret: str

    def __repr__(self) -> str:
        return f"GraphClient({self.api_base}/{self.api_version})"

    def _url(self, path: str) -> str:
        return f"{self.api_base.rstrip('/')}/{self.api_version}/{path.lstrip('/')}"

    def _auth(self) -> dict[str, str]:
        params = {"access_token": self.token}
        if self.app_secret:
            params["appsecret_proof"] = appsecret_proof(token=self.token, app_secret=self.app_secret)
        return params

    async def get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        return await self._call("GET", path, params={**(params or {}), **self._auth()})

    async def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", path, params=self._auth(), json=body)

    async def post_multipart(self, path: str, fields: dict[str, str], *, file_field: str, name: str,
                             data: bytes, mime_type: str) -> dict[str, Any]:
        return await self._call("POST", path, params=self._auth(), data=fields,
                                files={file_field: (name, data, mime_type)})

    async def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            reply = await self.http.request(method, self._url(path), **kwargs)
        except httpx.TimeoutException:
            raise GraphError(status=0, message="the Graph API did not answer in time") from None
        except httpx.HTTPError as exc:
            # Not str(exc): httpx puts the URL, with the access token, into its messages.
            raise GraphError(status=0, message=f"could not reach the Graph API ({exc.__class__.__name__})") from None
        try:
            body = reply.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if reply.is_success and isinstance(body, dict) and error is None:
            return body
        raise _graph_error(reply, error)

    async def download(self, url: str, *, max_bytes: int) -> Download:
        """Fetches a URL from a webhook: no token is sent, since the host is not the Graph API."""
        if urlsplit(url).scheme not in ("https", "http"):
            raise GraphError(status=0, message="the attachment reference is not an http(s) URL")
        try:
            async with self.http.stream("GET", url, follow_redirects=True) as reply:
                if not reply.is_success:
                    raise GraphError(status=reply.status_code, message=f"the file host answered {reply.status_code}")
                chunks: list[bytes] = []
                size = 0
                async for chunk in reply.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise GraphError(status=413, message=f"the file is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                mime = reply.headers.get("content-type", "").split(";")[0].strip() or "application/octet-stream"
                return Download(data=b"".join(chunks), mime_type=mime, name=_file_name(reply, url))
        except httpx.TimeoutException:
            raise GraphError(status=0, message="the file host did not answer in time") from None
        except httpx.HTTPError as exc:
            raise GraphError(status=0, message=f"could not download the file ({exc.__class__.__name__})") from None


def _graph_error(reply: httpx.Response, error: object) -> GraphError:
    regain = _regain_seconds(reply)
    if not isinstance(error, dict):
        return GraphError(status=reply.status_code, message=f"the Graph API answered HTTP {reply.status_code}",
                          regain_seconds=regain)
    code = error.get("code")
    subcode = error.get("error_subcode")
    message = error.get("message")
    return GraphError(
        status=reply.status_code,
        message=str(message) if message else f"Graph API error {code}",
        code=code if isinstance(code, int) else None,
        subcode=subcode if isinstance(subcode, int) else None,
        error_type=str(error.get("type")) if error.get("type") else None,
        regain_seconds=regain,
    )


def _regain_seconds(reply: httpx.Response) -> float | None:
    retry_after = reply.headers.get("retry-after", "")
    if retry_after.isdigit():
        return float(retry_after)
    minutes: list[float] = []
    for header in _USAGE_HEADERS:
        raw = reply.headers.get(header)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(usage, dict):
            continue
        # Business-use-case usage is {"<id>": [{..., "estimated_time_to_regain_access": m}]}; app/page usage is flat.
        items = [u for group in usage.values() if isinstance(group, list) for u in group] or [usage]
        for item in items:
            value = item.get("estimated_time_to_regain_access") if isinstance(item, dict) else None
            if isinstance(value, int | float) and value > 0:
                minutes.append(float(value))
    return max(minutes) * 60 if minutes else None


def _file_name(reply: httpx.Response, url: str) -> str | None:
    found = _FILENAME_RE.search(reply.headers.get("content-disposition", ""))
    if found:
        return unquote(found.group(1)).strip() or None
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name if "." in name else None
