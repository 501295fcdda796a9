"""Files and buttons in the citizen web chat, over real HTTP and websockets: uploads, downloads, buttons."""

from __future__ import annotations

import json
import struct
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from civdesk.channels.base import ChannelAccount, InboundKind, MalformedPayload, SignatureInvalid
from civdesk.channels.webchat.adapter import WebChatAdapter
from civdesk.config import Settings
from tests.conftest import TEST_SECRET
from tests.support.stack import Stack
from tests.support.world import wait_for
from tests.webchat.test_webchat_api import Agent, _auth, _next_message, _session, _socket, _transcript

MAX_BYTES = 1024 * 1024
PDF = b"%PDF-1.7\n" + b"2" * 3000 + b"\n%%EOF\n"
KEY = "a" * 64


def jpeg(pad: int = 2000) -> bytes:
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 480, 640, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof0 + b"\x05" * pad + b"\xff\xd9"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, secret_key=TEST_SECRET, environment="test",
                    delivery_poll_seconds=0.05, files_dir=tmp_path / "files", max_file_bytes=MAX_BYTES)


def _upload(stack: Stack, token: str | None, name: str, data: bytes, mime: str, *, text: str = "",
            cid: str | None = None, slug: str = "minsoc") -> httpx.Response:
    form = {"client_msg_id": cid or str(uuid.uuid4()), "text": text}
    headers = {**(_auth(token) if token else {}), "accept-language": "en"}
    return stack.client.post(f"/chat/{slug}/files", headers=headers, data=form, files={"file": (name, data, mime)})


def _press(stack: Stack, token: str, title: str, payload: str) -> httpx.Response:
    body = {"client_msg_id": str(uuid.uuid4()), "text": title, "button_payload": payload}
    return stack.client.post("/chat/minsoc/messages", headers={**_auth(token), "accept-language": "en"}, json=body)


def test_a_citizens_file_reaches_the_agent_once_and_both_can_download_it(stack: Stack) -> None:
    token = _session(stack)
    cid = str(uuid.uuid4())
    first = _upload(stack, token, "довідка.pdf", PDF, "application/pdf", text="Моя довідка", cid=cid)
    assert first.status_code == 202 and first.json() == {"ok": True, "duplicate": False}
    again = _upload(stack, token, "довідка.pdf", PDF, "application/pdf", text="Моя довідка", cid=cid)
    assert again.status_code == 202 and again.json() == {"ok": True, "duplicate": True}
    assert _upload(stack, token, "photo.jpg", jpeg(), "image/jpeg").status_code == 202  # no caption

    agent = Agent(stack)
    document, photo = agent.messages(agent.conversation()["id"])
    assert document["text"] == "Моя довідка" and photo["text"] == ""
    [meta] = document["attachments"]
    assert (meta["kind"], meta["name"], meta["mime_type"], meta["size"]) == (
        "document", "довідка.pdf", "application/pdf", len(PDF))
    assert photo["attachments"][0]["kind"] == "photo"
    by_agent = stack.client.get(f"/api/v1/messages/{document['id']}/files/0", headers=agent.headers)
    assert by_agent.status_code == 200 and by_agent.content == PDF

    [item, _] = _transcript(stack, token)
    [file] = item["attachments"]
    assert {k: file[k] for k in ("kind", "name", "mime_type", "size")} == {
        "kind": "document", "name": "довідка.pdf", "mime_type": "application/pdf", "size": len(PDF)}
    assert file["url"].startswith(f"/chat/minsoc/files/{document['id']}/0?file_token=")
    by_link = stack.client.get(file["url"])  # the link alone, as <a download> and <img> fetch it
    assert by_link.status_code == 200 and by_link.content == PDF
    assert by_link.headers["content-type"] == "application/pdf"
    assert by_link.headers["content-disposition"] == "attachment; filename*=UTF-8''" + quote("довідка.pdf")
    assert by_link.headers["x-content-type-options"] == "nosniff"
    by_session = stack.client.get(f"/chat/minsoc/files/{document['id']}/0", headers=_auth(token))
    assert by_session.status_code == 200 and by_session.content == PDF


def test_files_too_big_of_a_refused_type_or_without_a_session_are_refused(stack: Stack) -> None:
    token = _session(stack)
    cases = [
        (token, "big.pdf", b"%PDF-" + b"0" * MAX_BYTES, "application/pdf", 413, "larger than 1 MB"),
        (token, "setup.exe", b"MZ\x90\x00", "application/x-msdownload", 400, "not accepted"),
        (token, "page.html", b"<script>alert(1)</script>", "text/html", 400, "not accepted"),
        (token, "fake.pdf", b"<html></html>", "application/pdf", 400, "not application/pdf"),
        (token, "empty.txt", b"", "text/plain", 400, "empty"),
        (None, "a.pdf", PDF, "application/pdf", 401, "session token"),
    ]
    for session_token, name, data, mime, status, reason in cases:
        response = _upload(stack, session_token, name, data, mime)
        assert response.status_code == status, (name, response.text)
        assert reason in response.json()["error"]["message"], (name, response.text)
    no_id = stack.client.post("/chat/minsoc/files", headers=_auth(token),
                              files={"file": ("a.pdf", PDF, "application/pdf")})
    assert no_id.status_code == 422
    assert _transcript(stack, token) == []
    assert Agent(stack).webchat_conversations() == []


def test_a_citizen_cannot_download_another_citizens_file(stack: Stack) -> None:
    anna, bohdan = _session(stack), _session(stack)
    _upload(stack, anna, "anna.pdf", PDF, "application/pdf").raise_for_status()
    agent = Agent(stack)
    conversation_id = agent.conversation()["id"]
    reply = stack.client.post(f"/api/v1/conversations/{conversation_id}/attachments", headers=agent.headers,
                              files={"file": ("для-анни.pdf", PDF, "application/pdf")})
    assert reply.status_code == 202
    anna_file, agency_file = (m["id"] for m in agent.messages(conversation_id))
    _, link = (item["attachments"][0]["url"] for item in wait_for(lambda: len(_transcript(stack, anna)) == 2
                                                                   and _transcript(stack, anna), what="the reply"))

    for message_id in (anna_file, agency_file):
        # Another citizen's session: exactly like a file that does not exist.
        response = stack.client.get(f"/chat/minsoc/files/{message_id}/0", headers=_auth(bohdan))
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert stack.client.get(f"/chat/minsoc/files/{anna_file}/1", headers=_auth(anna)).status_code == 404
    assert stack.client.get(f"/chat/minsoc/files/{anna_file}/0").status_code == 401  # neither link nor session
    token = link.split("file_token=")[1]
    for path in (f"/chat/minsoc/files/{anna_file}/0", f"/chat/minsoc/files/{agency_file}/1",
                 f"/chat/pfu/files/{agency_file}/0"):
        # A link's token opens only its own file.
        assert stack.client.get(path, params={"file_token": token}).status_code == 401, path
    assert stack.client.get(link).status_code == 200


def test_agents_buttons_reach_the_citizen_and_a_press_comes_back_as_a_message(stack: Stack) -> None:
    token = _session(stack)
    stack.client.post("/chat/minsoc/messages", headers=_auth(token),
                      json={"client_msg_id": str(uuid.uuid4()), "text": "Чи можна подати онлайн?"}).raise_for_status()
    agent = Agent(stack)
    conversation_id = agent.conversation()["id"]
    buttons = [{"title": "Так, дякую", "payload": "resolved"}, {"title": "Ні", "payload": "not-resolved"}]
    with _socket(stack, token) as ws:
        assert _next_message(ws)["direction"] == "in"
        asked = stack.client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=agent.headers,
                                  json={"text": "Так, через портал. Питання вирішено?", "buttons": buttons})
        assert asked.status_code == 202
        pushed = _next_message(ws)
        assert pushed["direction"] == "out" and pushed["buttons"] == buttons

        refused = _press(stack, token, "Можливо", "maybe")  # never offered
        assert refused.status_code == 400 and "was offered" in refused.json()["error"]["message"]
        pressed = _press(stack, token, "підроблений текст", "resolved")
        assert pressed.status_code == 202 and pressed.json()["duplicate"] is False
        back = _next_message(ws)
    # The offered title is what is stored, whatever the page sent as text.
    assert back["direction"] == "in" and back["text"] == "Так, дякую" and back["buttons"] == []
    messages = agent.messages(conversation_id)
    assert [m["text"] for m in messages if m["direction"] == "in"] == ["Чи можна подати онлайн?", "Так, дякую"]
    wait_for(lambda: [m["delivery_status"] for m in agent.messages(conversation_id) if m["direction"] == "out"]
             == ["delivered"], what="the question delivered")


def test_an_agents_file_shows_in_the_citizens_transcript_as_a_download(stack: Stack) -> None:
    token = _session(stack)
    stack.client.post("/chat/minsoc/messages", headers=_auth(token),
                      json={"client_msg_id": str(uuid.uuid4()), "text": "Надішліть бланк"}).raise_for_status()
    agent = Agent(stack)
    photo = jpeg(5000)
    with _socket(stack, token) as ws:
        assert _next_message(ws)["direction"] == "in"
        sent = stack.client.post(f"/api/v1/conversations/{agent.conversation()['id']}/attachments",
                                 headers=agent.headers, data={"text": "Зразок"},
                                 files={"file": ("зразок.jpg", photo, "image/jpeg")})
        assert sent.status_code == 202
        pushed = _next_message(ws)
    reply = _transcript(stack, token)[1]
    # The socket's items are the transcript's; only the links differ, signed when each was rendered.
    assert _without_links(pushed) == _without_links(reply)
    assert stack.client.get(pushed["attachments"][0]["url"]).content == photo
    assert reply["direction"] == "out" and reply["text"] == "Зразок"
    [file] = reply["attachments"]
    assert (file["kind"], file["name"], file["mime_type"], file["size"]) == ("photo", "зразок.jpg", "image/jpeg",
                                                                             len(photo))
    assert stack.client.get(file["url"]).content == photo


def _without_links(item: dict[str, Any]) -> dict[str, Any]:
    attachments = [{**a, "url": a["url"].split("?", 1)[0]} for a in item["attachments"]]
    return {**item, "attachments": attachments}


# ---- the adapter's wire format (no database) ----

def _parse(body: dict[str, Any]) -> Any:
    return WebChatAdapter().parse(body=json.dumps(body).encode())


def test_the_adapter_parses_files_and_presses_and_refuses_anything_else() -> None:
    base = {"session_id": "s" * 32, "client_msg_id": "c" * 16}
    file = {"kind": "document", "stored_key": KEY, "mime_type": "application/pdf", "name": "a.pdf", "size": 10}
    [event] = _parse({**base, "text": "", "attachments": [file]}).events
    assert event.kind is InboundKind.MESSAGE and event.attachments == (file,) and event.text == ""
    [press] = _parse({**base, "text": "Так", "button_payload": "yes"}).events
    assert (press.kind, press.text, press.button_payload) == (InboundKind.BUTTON, "Так", "yes")

    bad = [
        {**base, "text": ""},
        {**base, "text": "x", "attachments": [{**file, "stored_key": "../../etc/passwd"}]},
        {**base, "text": "x", "attachments": [{**file, "kind": "location"}]},
        {**base, "text": "x", "attachments": [{**file, "size": -1}]},
        {**base, "text": "x", "attachments": "a.pdf"},
        {**base, "text": "x", "button_payload": "p" * 65},
        {**base, "text": "x", "button_payload": "yes", "attachments": [file]},
    ]
    for body in bad:
        with pytest.raises(MalformedPayload):
            _parse(body)
    with pytest.raises(SignatureInvalid):
        WebChatAdapter().verify(account=ChannelAccount(id=1, config={}, secrets={}), headers={}, body=b"{}")
