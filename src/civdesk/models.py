"""Every table, imported in one place for Alembic's autogenerate and for tooling."""

from civdesk.agency.models import Agency, Holiday, Topic
from civdesk.agent.models import Agent
from civdesk.audit.models import AuditEvent
from civdesk.channel.models import Channel
from civdesk.contact.models import Contact, ContactIdentity
from civdesk.conversation.models import Conversation, Message
from civdesk.db.base import Base
from civdesk.delivery.models import DeliveryJob
from civdesk.knowledge.models import CannedAnswer, ResolutionCode
from civdesk.presence.models import AgentPresence, PresenceChange
from civdesk.quality.models import Rating
from civdesk.realtime.models import EventRecord
from civdesk.routing.models import (
    AgentLanguage,
    AgentLoad,
    AgentSkill,
    RoutingDecision,
    SlaBreach,
    Transfer,
    TransferPartner,
)
from civdesk.timer.models import Timer

__all__ = [
    "Agency",
    "Agent",
    "AgentLanguage",
    "AgentLoad",
    "AgentPresence",
    "AgentSkill",
    "AuditEvent",
    "Base",
    "CannedAnswer",
    "Channel",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "DeliveryJob",
    "EventRecord",
    "Holiday",
    "Message",
    "PresenceChange",
    "Rating",
    "ResolutionCode",
    "RoutingDecision",
    "SlaBreach",
    "Timer",
    "Topic",
    "Transfer",
    "TransferPartner",
]
