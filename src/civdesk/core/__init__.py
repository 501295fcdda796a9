"""Shared vocabulary: errors, event names, clock, i18n. Imports nothing else from civdesk."""
