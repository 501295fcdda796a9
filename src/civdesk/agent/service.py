"""Agents: creation, Argon2 passwords, login and bearer tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency.models import Agency
from civdesk.agent.models import Agent, Role
from civdesk.core.clock import now
from civdesk.core.errors import Conflict, InvalidInput, Unauthorized

_hasher = PasswordHasher()
# Verifying against a real hash when the email is unknown keeps login timing uniform.
_DUMMY_HASH = _hasher.hash("civdesk-timing-equaliser")
_ALGORITHM = "HS256"
_AUDIENCE = "civdesk-agent"


@dataclass(frozen=True)
class AgentIdentity:
    """Who is calling, as proven by the bearer token."""

    agent_id: int
    agency_id: int
    role: str

    @property
    def is_supervisor(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.ADMIN)


async def create(
    *,
    session: AsyncSession,
    agency: Agency,
    email: str,
    password: str,
    name: str,
    role: str = Role.AGENT.value,
    region: str | None = None,
    capacity: int = 5,
) -> Agent:
    """Creates an agent with an Argon2-hashed password."""
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput(f"{email!r} is not an email address", f"{email!r} — не адреса електронної пошти")
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"role must be one of {', '.join(r.value for r in Role)}", "невідома роль")
    if len(password) < 8:
        raise InvalidInput("password must be at least 8 characters", "пароль має містити щонайменше 8 символів")
    if not 0 <= capacity <= 100:  # as the API allows: routing ranks by load / capacity
        raise InvalidInput("capacity must be from 0 to 100", "місткість має бути від 0 до 100")
    if await session.scalar(select(Agent.id).where(Agent.email == email)) is not None:
        raise Conflict(f"agent {email} already exists", f"працівник {email} вже існує")
    agent = Agent(
        agency_id=agency.id,
        email=email,
        password_hash=_hasher.hash(password),
        name=name.strip(),
        role=role,
        region=region,
        capacity=capacity,
    )
    session.add(agent)
    await session.flush()
    return agent


async def authenticate(*, session: AsyncSession, email: str, password: str) -> Agent:
    agent = await session.scalar(select(Agent).where(Agent.email == email.strip().lower()))
    try:
        _hasher.verify(agent.password_hash if agent else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        agent = None
    if agent is None or not agent.is_active:
        raise Unauthorized("wrong email or password", "неправильна пошта або пароль")
    return agent


def issue_token(*, agent: Agent, secret_key: str, ttl_seconds: int) -> str:
    issued = now()
    claims = {
        "sub": str(agent.id),
        "agency": agent.agency_id,
        "role": agent.role,
        "aud": _AUDIENCE,
        "iat": issued,
        "exp": issued + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, secret_key, algorithm=_ALGORITHM)


def identity_from_token(*, token: str, secret_key: str) -> AgentIdentity:
    try:
        claims = jwt.decode(token, secret_key, algorithms=[_ALGORITHM], audience=_AUDIENCE)
        return AgentIdentity(agent_id=int(claims["sub"]), agency_id=int(claims["agency"]), role=str(claims["role"]))
    except (jwt.PyJWTError, KeyError, ValueError):
        raise Unauthorized("invalid or expired token", "недійсний або прострочений токен") from None


async def get(*, session: AsyncSession, agent_id: int) -> Agent | None:
    return await session.get(Agent, agent_id)


async def in_agency(*, session: AsyncSession, agency_id: int) -> list[Agent]:
    """The agency's active agents, by name."""
    rows = await session.scalars(
        select(Agent).where(Agent.agency_id == agency_id, Agent.is_active.is_(True)).order_by(Agent.name, Agent.id)
    )
    return list(rows)
