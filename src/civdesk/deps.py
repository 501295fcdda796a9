"""FastAPI dependency aliases shared by every router: session, settings, the calling agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civdesk.agent.service import AgentIdentity, identity_from_token
from civdesk.config import Settings
from civdesk.core.errors import Unauthorized

# These are `async def` although they do not await: FastAPI runs a plain `def` dependency in its
# thread pool, a thread hop per request (measured on every webhook) for a dict read.


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]


async def get_session(maker: SessionmakerDep) -> AsyncIterator[AsyncSession]:
    async with maker() as session:
        yield session


_bearer = HTTPBearer(auto_error=False)


async def get_agent(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AgentIdentity:
    # An HS256 token check: microseconds of CPU, nothing that blocks.
    if credentials is None:
        raise Unauthorized("a bearer token is required", "потрібен токен доступу")
    return identity_from_token(token=credentials.credentials, secret_key=settings.secret_key)


SessionDep = Annotated[AsyncSession, Depends(get_session)]
CurrentAgent = Annotated[AgentIdentity, Depends(get_agent)]
