"""Facebook Messenger Platform: Page webhooks and the Send API, through an own thin Graph client."""

from civdesk.channels.messenger.adapter import MessengerAdapter

__all__ = ["MessengerAdapter"]
