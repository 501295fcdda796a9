"""Audit records are written in the same transaction as the act they describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.audit.models import AuditEvent


def record(
    *,
    session: AsyncSession,
    action: str,
    subject_type: str,
    subject_id: object | None = None,
    agency_id: int | None = None,
    actor_agent_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Adds an audit event to the current transaction."""
    session.add(
        AuditEvent(
            agency_id=agency_id,
            actor_agent_id=actor_agent_id,
            action=action,
            subject_type=subject_type,
            subject_id=None if subject_id is None else str(subject_id),
            detail=detail or {},
        )
    )
