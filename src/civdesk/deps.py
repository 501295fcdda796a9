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

# The two getters below are `async def` although they do not await: FastAPI runs a plain `def`
# dependency in its thread pool, a thread hop per request (measured on every webhook) for a dict read.


def _settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _sessionmaker_of(request: Request) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    return maker


async def get_settings(request: Request) -> Settings:
    return _settings_of(request)


async def get_sessionmaker(request: Request) -> async_sessionmaker[AsyncSession]:
    return _sessionmaker_of(request)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _sessionmaker_of(request)() as session:
        yield session


_bearer = HTTPBearer(auto_error=False)


def get_agent(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> AgentIdentity:
    if credentials is None:
        raise Unauthorized("a bearer token is required", "потрібен токен доступу")
    return identity_from_token(token=credentials.credentials, secret_key=_settings_of(request).secret_key)


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
SessionmakerDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessionmaker)]
CurrentAgent = Annotated[AgentIdentity, Depends(get_agent)]
