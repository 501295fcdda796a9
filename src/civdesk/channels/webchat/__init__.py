"""civdesk's own web chat: the reference channel, served by civdesk itself."""

from civdesk.channels.webchat.adapter import WebChatAdapter

__all__ = ["WebChatAdapter"]
