"""Events to agents' consoles: a durable event log, a bus across processes, the websocket hub."""
