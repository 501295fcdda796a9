"""Messenger adapters behind one interface (base.py), looked up through registry.py."""
