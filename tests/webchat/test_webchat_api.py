"""The citizen web chat API over real HTTP and websockets: session, send, transcript, live replies."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape as html_unescape
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.support.stack import Stack
from tests.support.world import login, wait_for


def _session(stack: Stack, slug: str = "minsoc") -> str:
    response = stack.client.post(f"/chat/{slug}/session")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["session_id"] and body["token"]
    return str(body["token"])


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _send(stack: Stack, token: str, text: str, *, cid: str | None = None, name: str | None = None,
          slug: str = "minsoc") -> httpx.Response:
    body: dict[str, Any] = {"client_msg_id": cid or str(uuid.uuid4()), "text": text}
    if name:
        body["name"] = name
    return stack.client.post(f"/chat/{slug}/messages", headers=_auth(token), json=body)


def _transcript(stack: Stack, token: str, after_id: int = 0) -> list[dict[str, Any]]:
    response = stack.client.get("/chat/minsoc/messages", headers=_auth(token), params={"after_id": after_id})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


class Agent:
    def __init__(self, stack: Stack) -> None:
        self.client = stack.client
        self.headers = login(stack.client, stack.world.agent_email)

    def webchat_conversations(self) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/conversations", headers=self.headers)
        response.raise_for_status()
        return [c for c in response.json()["items"] if c["channel_type"] == "webchat"]

    def conversation(self) -> dict[str, Any]:
        return wait_for(self.webchat_conversations, what="the web chat conversation")[0]

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=self.headers)
        response.raise_for_status()
        return list(response.json()["items"])

    def reply(self, conversation_id: int, text: str) -> None:
        response = self.client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=self.headers,
                                    json={"text": text})
        assert response.status_code == 202, response.text

    def note(self, conversation_id: int, text: str) -> None:
        response = self.client.post(f"/api/v1/conversations/{conversation_id}/notes", headers=self.headers,
                                    json={"text": text})
        assert response.status_code == 201, response.text


@contextmanager
def _socket(stack: Stack, token: str, after_id: int = 0) -> Iterator[ClientConnection]:
    url = stack.server.url.replace("http://", "ws://") + f"/chat/minsoc/ws?token={token}&after_id={after_id}"
    with connect(url, open_timeout=5, close_timeout=1) as ws:
        yield ws


def _next_message(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=timeout))
        if frame["type"] == "message":
            return dict(frame["message"])
        # "state" (who is online, whether a rating is due) follows each batch of messages.
        assert frame["type"] in ("heartbeat", "state"), frame


def test_page_renders_the_agency_with_config_in_data_attributes_and_no_inline_code(stack: Stack) -> None:
    response = stack.client.get("/chat/minsoc")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="uk">' in html
    assert "Міністерство соціальної політики" in html
    assert 'data-agency-slug="minsoc"' in html
    assert "<noscript>" in html and "потрібен JavaScript" in html
    assert re.findall(r"<script\b[^>]*>", html) == ['<script src="/static/chat-lang.js">',
                                                   '<script src="/static/chat-ui.js" defer>',
                                                   '<script src="/static/chat.js" defer>',
                                                   '<script src="/static/chat-state.js" defer>']
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html), "inline style or handler breaks a strict CSP"
    for path, kind in (("/static/chat.js", "javascript"), ("/static/chat-ui.js", "javascript"),
                       ("/static/chat-lang.js", "javascript"), ("/static/chat-i18n/en.json", "json"),
                       ("/static/chat.css", "text/css"), ("/static/chat-rich.css", "text/css")):
        asset = stack.client.get(path)
        assert asset.status_code == 200 and kind in asset.headers["content-type"]


@pytest.mark.parametrize(
    ("query", "accept_language", "expected"),
    [
        ("", None, "uk"),
        ("?lang=en", None, "en"),
        ("?lang=uk", "en-GB,en;q=0.9", "uk"),  # the query wins
        ("?lang=fr", "en-US,en;q=0.8", "en"),  # an unknown ?lang= is ignored
        ("", "de-DE,de;q=0.9,en;q=0.8,uk;q=0.7", "en"),  # the first of ours, by preference
        ("", "uk;q=0.5,en;q=0.9", "en"),
        ("", "ru,de;q=0.9", "uk"),  # neither: Ukrainian
        ("", "en;q=0,uk-UA", "uk"),
    ],
)
def test_page_language_comes_from_lang_then_accept_language_then_ukrainian(
    stack: Stack, query: str, accept_language: str | None, expected: str
) -> None:
    headers = {"accept-language": accept_language} if accept_language else {}
    response = stack.client.get(f"/chat/minsoc{query}", headers=headers)
    assert response.status_code == 200
    html = response.text
    assert f'<html lang="{expected}">' in html
    assert response.headers["content-language"] == expected
    other = "uk" if expected == "en" else "en"
    assert f'href="?lang={other}" lang="{other}"' in html  # the switch to the other language
    if expected == "en":
        assert "<title>Online chat — Міністерство соціальної політики</title>" in html
        assert "The chat needs JavaScript" in html and "потрібен JavaScript" not in html
        strings = json.loads(html_unescape(re.search(r"data-strings='([^']*)'", html).group(1)))  # type: ignore[union-attr]
        assert strings["state.sent"] == "sent" and strings["queue.nobody"].startswith("You are number")
    else:
        assert "Онлайн-чат — Міністерство соціальної політики" in html


def test_citizen_message_reaches_the_agent_as_a_webchat_conversation(stack: Stack) -> None:
    token = _session(stack)
    response = _send(stack, token, "  Як оформити субсидію?  ", name="Марія")
    assert response.status_code == 202 and response.json() == {"ok": True, "duplicate": False}

    agent = Agent(stack)
    conversation = agent.conversation()
    assert conversation["channel_type"] == "webchat"
    assert conversation["channel_id"] == stack.world.webchat_channel_id
    assert conversation["contact_name"] == "Марія"
    [message] = agent.messages(conversation["id"])
    assert message["direction"] == "in" and message["text"] == "Як оформити субсидію?"
    [item] = _transcript(stack, token)
    assert item == {"id": message["id"], "direction": "in", "text": "Як оформити субсидію?",
                    "created_at": item["created_at"], "attachments": [], "buttons": [], "location": None,
                    "contact": None}
    assert item["created_at"].endswith(("Z", "+00:00"))  # an instant the browser can place in its zone


def test_same_client_msg_id_is_stored_once(stack: Stack) -> None:
    token = _session(stack)
    cid = str(uuid.uuid4())
    first = _send(stack, token, "Один раз", cid=cid)
    again = _send(stack, token, "Один раз", cid=cid)
    assert first.json() == {"ok": True, "duplicate": False}
    assert again.status_code == 202 and again.json() == {"ok": True, "duplicate": True}
    assert [i["text"] for i in _transcript(stack, token)] == ["Один раз"]
    _send(stack, token, "Один раз").raise_for_status()  # the same words with a new id are a new message
    agent = Agent(stack)
    assert [m["text"] for m in agent.messages(agent.conversation()["id"])] == ["Один раз", "Один раз"]


def test_missing_or_bad_token_is_401_and_stores_nothing(stack: Stack) -> None:
    token = _session(stack)
    tampered = f"{token[:-2]}{'A' if token[-2] != 'A' else 'B'}{token[-1]}"
    for authorization in (None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz", f"Bearer {tampered}"):
        headers = {"authorization": authorization} if authorization is not None else {}
        sent = stack.client.post("/chat/minsoc/messages", headers=headers,
                                 json={"client_msg_id": str(uuid.uuid4()), "text": "Привіт"})
        read = stack.client.get("/chat/minsoc/messages", headers=headers)
        for response in (sent, read):
            assert response.status_code == 401, (authorization, response.text)
            assert response.json()["error"]["code"] == "unauthorized"
    assert Agent(stack).webchat_conversations() == []


def test_websocket_with_a_bad_token_is_closed_with_4401(stack: Stack) -> None:
    with _socket(stack, "not-a-token") as ws, pytest.raises(ConnectionClosed) as refused:
        ws.recv(timeout=5)
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 4401


def test_token_of_one_agency_is_refused_by_another(stack: Stack) -> None:
    token = _session(stack, "minsoc")
    response = _send(stack, token, "Питання до ПФУ", slug="pfu")
    assert response.status_code == 401
    read = stack.client.get("/chat/pfu/messages", headers=_auth(token))
    assert read.status_code == 401
    pfu_agent = login(stack.client, stack.world.other_agent_email)
    assert stack.client.get("/api/v1/conversations", headers=pfu_agent).json()["items"] == []


INVALID = [
    ({"client_msg_id": "abcdefgh-1", "text": ""}, 422),
    ({"client_msg_id": "abcdefgh-2", "text": "   \n "}, 400),
    ({"client_msg_id": "abcdefgh-3"}, 422),
    ({"client_msg_id": "short", "text": "Привіт"}, 422),
    ({"client_msg_id": "x" * 65, "text": "Привіт"}, 422),
    ({"client_msg_id": "abcdefgh-4", "text": "я" * 4001}, 422),
    ({"client_msg_id": "abcdefgh-5", "text": "Привіт", "name": "М" * 121}, 422),
]


def test_invalid_messages_are_refused_and_store_nothing(stack: Stack) -> None:
    token = _session(stack)
    for body, status in INVALID:
        response = stack.client.post("/chat/minsoc/messages", headers=_auth(token), json=body)
        assert response.status_code == status, (body, response.text)
    assert _transcript(stack, token) == []


def test_agency_without_a_web_chat_is_404(stack: Stack) -> None:
    for slug in ("nope", "pfu"):  # pfu exists but has no web chat
        assert stack.client.get(f"/chat/{slug}").status_code == 404, slug
        response = stack.client.post(f"/chat/{slug}/session")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", slug


def test_transcript_and_socket_never_show_internal_notes(stack: Stack) -> None:
    token = _session(stack)
    _send(stack, token, "Де моя заява?").raise_for_status()
    agent = Agent(stack)
    conversation_id = agent.conversation()["id"]
    with _socket(stack, token) as ws:
        assert _next_message(ws)["text"] == "Де моя заява?"
        agent.note(conversation_id, "ВНУТРІШНЄ: заявник уже дзвонив двічі")
        agent.reply(conversation_id, "Заява в роботі.")
        pushed = _next_message(ws)
    assert pushed["direction"] == "out" and pushed["text"] == "Заява в роботі."  # the note was skipped
    assert [(i["direction"], i["text"]) for i in _transcript(stack, token)] == [
        ("in", "Де моя заява?"), ("out", "Заява в роботі.")]
    assert any(m["direction"] == "note" for m in agent.messages(conversation_id))


def test_websocket_pushes_replies_and_resumes_after_a_reconnect(stack: Stack) -> None:
    token = _session(stack)
    _send(stack, token, "Коли буде рішення?").raise_for_status()
    agent = Agent(stack)
    conversation_id = agent.conversation()["id"]
    with _socket(stack, token) as ws:
        own = _next_message(ws)  # the transcript so far is replayed first
        assert own["direction"] == "in" and own["text"] == "Коли буде рішення?"
        agent.reply(conversation_id, "Протягом тижня.")
        live = _next_message(ws)
        assert live["direction"] == "out" and live["text"] == "Протягом тижня." and live["id"] > own["id"]

    agent.reply(conversation_id, "Рішення готове.")  # while the citizen is disconnected
    agent.reply(conversation_id, "Лист надіслано.")
    with _socket(stack, token, after_id=live["id"]) as ws:
        missed = [_next_message(ws), _next_message(ws)]
        assert [m["text"] for m in missed] == ["Рішення готове.", "Лист надіслано."]
        assert missed[0]["id"] < missed[1]["id"]
        _send(stack, token, "Дякую!").raise_for_status()
        assert _next_message(ws)["text"] == "Дякую!"  # nothing replayed twice in between
    assert [i["text"] for i in _transcript(stack, token, after_id=live["id"])] == [
        "Рішення готове.", "Лист надіслано.", "Дякую!"]


def test_citizens_only_ever_see_their_own_chat(stack: Stack) -> None:
    anna, bohdan = _session(stack), _session(stack)
    _send(stack, anna, "Питання Анни", name="Анна").raise_for_status()
    agent = Agent(stack)
    anna_conversation = agent.conversation()["id"]
    with _socket(stack, anna) as ws:
        assert _next_message(ws)["text"] == "Питання Анни"
        _send(stack, bohdan, "Питання Богдана", name="Богдан").raise_for_status()
        wait_for(lambda: len(agent.webchat_conversations()) == 2, what="Bohdan's conversation")
        bohdan_conversation = next(c["id"] for c in agent.webchat_conversations() if c["contact_name"] == "Богдан")
        agent.reply(bohdan_conversation, "Відповідь Богданові")
        agent.reply(anna_conversation, "Відповідь Анні")
        assert _next_message(ws)["text"] == "Відповідь Анні"  # nothing of Bohdan's reached Anna
    assert [i["text"] for i in _transcript(stack, anna)] == ["Питання Анни", "Відповідь Анні"]
    assert [i["text"] for i in _transcript(stack, bohdan)] == ["Питання Богдана", "Відповідь Богданові"]
