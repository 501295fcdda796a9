"""Viber REST Bot API, through an own thin httpx client (viberbot is frozen since 2021)."""

from civdesk.channels.viber.adapter import ViberAdapter

__all__ = ["ViberAdapter"]
