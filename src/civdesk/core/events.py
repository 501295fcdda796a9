"""Realtime event names: the one place clients and publishers agree on."""

from typing import Final

MESSAGE_CREATED: Final = "message.created"
MESSAGE_DELIVERY: Final = "message.delivery"
MESSAGE_UPDATED: Final = "message.updated"
CONVERSATION_CREATED: Final = "conversation.created"
CONVERSATION_UPDATED: Final = "conversation.updated"
CONVERSATION_ASSIGNED: Final = "conversation.assigned"
AGENT_PRESENCE: Final = "agent.presence"
CONVERSATION_TRANSFERRED: Final = "conversation.transferred"
TARGET_WARNING: Final = "target.warning"  # a response target is about to be missed: the agent is warned
TARGET_BREACHED: Final = "target.breached"  # missed: recorded, and supervisors are told

ALL: Final = frozenset(
    {
        MESSAGE_CREATED,
        MESSAGE_DELIVERY,
        MESSAGE_UPDATED,
        CONVERSATION_CREATED,
        CONVERSATION_UPDATED,
        CONVERSATION_ASSIGNED,
        AGENT_PRESENCE,
        CONVERSATION_TRANSFERRED,
        TARGET_WARNING,
        TARGET_BREACHED,
    }
)
