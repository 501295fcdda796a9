"""WhatsApp Business Cloud API (Meta), through a thin httpx Graph API client."""

from civdesk.channels.whatsapp.adapter import WhatsAppAdapter

__all__ = ["WhatsAppAdapter"]
