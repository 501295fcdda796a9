"""The outbox: delivery jobs committed with the reply, drained by workers."""
