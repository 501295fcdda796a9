"""Buttons as a Viber keyboard, and the tracking_data marker that lets a tap be told from typing.

A tap on an ActionType "reply" button reaches the webhook as an ordinary text message whose text is
the button's ActionBody; the tracking_data of our last message comes back with every reply, typed or
tapped. So the marker carries the keyboard's (ActionBody, payload) pairs: a message is a BUTTON only
when its text is one of those bodies. The body is the button's title, so the citizen's chat shows what
they chose ("4", "Так") rather than a machine payload.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from civdesk.channels.base import Button

MARKER = "civdesk:kb:"
COLUMNS = 6  # the keyboard grid is 6 columns wide (creators.viber.com keyboards: Columns 1-6)
# Viber documents no maximum number of keyboard buttons (the keyboard scrolls; the request must stay
# under 30 KB). 24 is our own cap: four screens of one-row buttons is already past usable.
MAX_BUTTONS = 24
MAX_TRACKING_DATA = 4000  # send_message: tracking_data "Max 4000 characters"
# About six characters fit one grid column on a phone (nyaruka/courier packs 38 per 6-column row).
_CHARS_PER_COLUMN = 6


class KeyboardTooLarge(ValueError):
    """The buttons do not fit what Viber takes; the reason says which limit."""


def build(buttons: Sequence[Button]) -> tuple[dict[str, Any], str]:
    """Returns (keyboard, tracking_data) for a send_message body."""
    if len(buttons) > MAX_BUTTONS:
        raise KeyboardTooLarge(f"{len(buttons)} buttons; a Viber keyboard here holds at most {MAX_BUTTONS}")
    bodies = _action_bodies(buttons)
    rows: list[dict[str, Any]] = []
    for start, count, width in _rows([b.title for b in buttons]):
        for index in range(start, start + count):
            rows.append({"Columns": width, "Rows": 1, "ActionType": "reply", "ActionBody": bodies[index],
                         "Text": html.escape(buttons[index].title), "TextSize": "regular"})
    tracking = MARKER + json.dumps([[body, b.payload] for body, b in zip(bodies, buttons, strict=True)],
                                   ensure_ascii=False, separators=(",", ":"))
    if len(tracking) > MAX_TRACKING_DATA:
        raise KeyboardTooLarge(f"button titles and payloads take {len(tracking)} characters of tracking_data; "
                               f"Viber allows {MAX_TRACKING_DATA}")
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": rows}, tracking


def payload_for(text: str, tracking_data: object) -> str | None:
    """The payload of the button whose ActionBody is `text`, if tracking_data is our marker."""
    if not isinstance(tracking_data, str) or not tracking_data.startswith(MARKER):
        return None
    try:
        pairs = json.loads(tracking_data[len(MARKER):])
    except ValueError:
        return None
    if not isinstance(pairs, list):
        return None
    for pair in pairs:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == text and isinstance(pair[1], str):
            return pair[1]
    return None


def _action_bodies(buttons: Sequence[Button]) -> list[str]:
    """The titles, made unique: two equal bodies could not be told apart when tapped."""
    seen: set[str] = set()
    bodies: list[str] = []
    for button in buttons:
        body = button.title.strip() or button.payload
        candidate, n = body, 2
        while candidate in seen:
            candidate, n = f"{body} ({n})", n + 1
        seen.add(candidate)
        bodies.append(candidate)
    return bodies


def _rows(titles: Sequence[str]) -> list[tuple[int, int, int]]:
    """(first index, buttons in the row, columns each): as many equal buttons per row as their titles allow."""
    rows: list[tuple[int, int, int]] = []
    start = 0
    while start < len(titles):
        rest = len(titles) - start
        for count in (6, 5, 4, 3, 2, 1):
            width = COLUMNS // count
            fits = all(len(t) <= width * _CHARS_PER_COLUMN - 1 for t in titles[start:start + count])
            if count <= rest and (fits or count == 1):
                break
        rows.append((start, count, width))
        start += count
    return rows
