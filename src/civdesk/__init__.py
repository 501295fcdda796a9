"""civdesk: citizens write to agencies in their messengers; civil servants answer from anywhere."""

__version__ = "0.1.0"
