from __future__ import annotations

from fastapi import APIRouter

from civdesk.agent import service as agent_service
from civdesk.agent.schemas import AgentRead, LoginRequest, TokenRead
from civdesk.audit import service as audit_service
from civdesk.core.errors import NotFound
from civdesk.deps import CurrentAgent, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["agents"])


@router.post("/auth/login", response_model=TokenRead)
async def login(body: LoginRequest, session: SessionDep, settings: SettingsDep) -> TokenRead:
    """Exchanges an agent's email and password for a bearer token."""
    agent = await agent_service.authenticate(session=session, email=body.email, password=body.password)
    audit_service.record(
        session=session,
        action="agent.login",
        subject_type="agent",
        subject_id=agent.id,
        agency_id=agent.agency_id,
        actor_agent_id=agent.id,
    )
    await session.commit()
    token = agent_service.issue_token(
        agent=agent, secret_key=settings.secret_key, ttl_seconds=settings.access_token_ttl_seconds
    )
    return TokenRead(access_token=token, expires_in=settings.access_token_ttl_seconds)


@router.get("/me", response_model=AgentRead)
async def me(who: CurrentAgent, session: SessionDep) -> AgentRead:
    agent = await agent_service.get(session=session, agent_id=who.agent_id)
    if agent is None:
        raise NotFound("agent no longer exists", "працівника вже немає")
    return AgentRead.model_validate(agent)
