"""Demo data: two agencies, their topics, agents in several regions, a Telegram bot and a web chat each."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import service as agency_service
from civdesk.agent import service as agent_service
from civdesk.channel import service as channel_service
from civdesk.core.errors import Conflict
from civdesk.knowledge import service as knowledge_service
from civdesk.routing import assign
from civdesk.routing import config as routing_config
from civdesk.routing.models import AgentLanguage, AgentSkill, TransferPartner

DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoBot:
    agency_slug: str
    token: str
    username: str
    title: str


AGENCIES = [
    (
        "minsoc",
        "Міністерство соціальної політики",
        [
            ("subsidies", "Субсидії"),
            ("idp-aid", "Допомога ВПО"),
            ("birth-aid", "Допомога при народженні дитини"),
        ],
    ),
    ("pfu", "Пенсійний фонд України", [("pensions", "Пенсії"), ("subsidies", "Субсидії")]),
]

AGENTS = [
    ("minsoc", "olena@minsoc.demo", "Олена Коваль", "agent", "Київ"),
    ("minsoc", "taras@minsoc.demo", "Тарас Мельник", "agent", "Львівська область"),
    ("minsoc", "iryna@minsoc.demo", "Ірина Бондар", "supervisor", "Полтавська область"),
    ("minsoc", "admin@minsoc.demo", "Адміністратор Мінсоцу", "admin", "Київ"),
    ("pfu", "petro@pfu.demo", "Петро Шевчук", "agent", "Харківська область"),
    ("pfu", "oksana@pfu.demo", "Оксана Ткаченко", "supervisor", "Одеська область"),
]

# The ministry is on every messenger; the sandbox plays each platform with these credentials.
VIBER_TOKEN = "civdesk-demo-viber-minsoc"
WHATSAPP = {
    "phone_number_id": "1000000000002",
    "token": "demo-whatsapp-token",
    "app_secret": "demo-whatsapp-secret",
    "verify_token": "demo-whatsapp-verify",
    "display": "380800000002",
}
MESSENGER = {
    "page_id": "1000000000003",
    "page_token": "demo-messenger-page-token",
    "app_secret": "demo-messenger-secret",
    "verify_token": "demo-messenger-verify",
}

RESOLUTION_CODES = ["Роз'яснено", "Передано в ЦНАП", "Передано за належністю", "Не наше питання", "Спам"]

CANNED_ANSWERS = [
    (
        "Привітання",
        "Добрий день! Дякуємо за звернення. Чим можемо допомогти?",
        None,
        None,
    ),
    (
        "Строк розгляду звернення",
        "Звернення розглядається не пізніше 30 днів від дня надходження; якщо додаткового вивчення "
        "не потрібно — невідкладно, але не пізніше 15 днів.",
        "ст. 20 Закону України «Про звернення громадян» № 393/96-ВР",
        "https://zakon.rada.gov.ua/laws/show/393/96-%D0%B2%D1%80",
    ),
    (
        "Субсидія: як подати заяву",
        "Заяву на субсидію можна подати онлайн через портал «Дія» або особисто в ЦНАП чи органі "
        "соціального захисту за місцем проживання.",
        None,
        "https://diia.gov.ua/",
    ),
    (
        "Потрібні дані для звернення",
        "Щоб ми зареєстрували ваше звернення, вкажіть, будь ласка, прізвище, ім'я, по батькові, "
        "місце проживання та контакт для відповіді.",
        "ст. 5 Закону України «Про звернення громадян» № 393/96-ВР",
        None,
    ),
]

# Routing: the bot asks the topic first; balanced assignment among the skilled agents who are online.
WEEKDAYS_8_TO_18 = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
AGENCY_ROUTING: dict[str, dict[str, Any]] = {
    "minsoc": {"working_hours": None, "languages": ["uk", "en"], "accepts_from": ["pfu"]},
    "pfu": {"working_hours": WEEKDAYS_8_TO_18, "languages": ["uk"], "accepts_from": ["minsoc"]},
}
TOPIC_ROUTING = {
    "subsidies": (["субсид", "комунальн", "опаленн"], {"en": "Housing subsidies"}),
    "idp-aid": (["впо", "переселен", "евакуац"], {"en": "IDP assistance"}),
    "birth-aid": (["народжен", "пологи", "новонародж"], {"en": "Childbirth assistance"}),
    "pensions": (["пенсі", "стаж", "перерахун"], {"en": "Pensions"}),
}
SKILLS = {
    "olena@minsoc.demo": (["subsidies", "idp-aid"], []),
    "taras@minsoc.demo": (["subsidies", "idp-aid", "birth-aid"], ["en"]),
    "iryna@minsoc.demo": (["subsidies", "idp-aid", "birth-aid"], ["en"]),
    "petro@pfu.demo": (["pensions", "subsidies"], []),
    "oksana@pfu.demo": (["pensions", "subsidies"], []),
}

BOTS = [
    DemoBot("minsoc", "7000000001:AAminsoc-demo-token-0000000000000", "minsoc_gov_bot", "Мінсоцполітики"),
    DemoBot("pfu", "7000000002:AApfu-demo-token-000000000000000000", "pfu_gov_bot", "Пенсійний фонд"),
]


async def seed(*, session: AsyncSession, sandbox_url: str) -> dict[str, int]:
    """Creates what is missing and returns the ids of the channels to wire to the sandbox:
    {"minsoc": telegram id, "pfu": telegram id, "viber": …, "whatsapp": …, "messenger": …} (idempotent)."""
    for slug, name, topics in AGENCIES:
        agency = await agency_service.get_by_slug(session=session, slug=slug)
        if agency is None:
            agency = await agency_service.create(session=session, slug=slug, name=name)
        for topic_slug, topic_name in topics:
            with contextlib.suppress(Conflict):
                await agency_service.add_topic(session=session, agency=agency, slug=topic_slug, name=topic_name)
    for slug, email, name, role, region in AGENTS:
        agency = await agency_service.require_by_slug(session=session, slug=slug)
        with contextlib.suppress(Conflict):
            await agent_service.create(
                session=session,
                agency=agency,
                email=email,
                password=DEMO_PASSWORD,
                name=name,
                role=role,
                region=region,
            )
    await _seed_routing(session=session)
    telegram_ids: dict[str, int] = {}
    for bot in BOTS:
        agency = await agency_service.require_by_slug(session=session, slug=bot.agency_slug)
        existing = {c.type: c for c in await channel_service.list_for(session=session, agency_id=agency.id)}
        telegram = existing.get("telegram")
        if telegram is None:
            telegram = await channel_service.add(
                session=session,
                agency=agency,
                type="telegram",
                name=f"@{bot.username}",
                config={"api_base": sandbox_url, "username": bot.username},
                secrets={"token": bot.token, "secret": channel_service.new_webhook_secret()},
            )
        telegram.config = {**telegram.config, "api_base": sandbox_url}
        telegram_ids[bot.agency_slug] = telegram.id
        if "webchat" not in existing:
            await channel_service.add(session=session, agency=agency, type="webchat", name="Веб-чат")
        await knowledge_service.seed_codes(session=session, agency_id=agency.id, titles=RESOLUTION_CODES)
        await knowledge_service.seed_answers(session=session, agency_id=agency.id, answers=CANNED_ANSWERS)
    minsoc = await agency_service.require_by_slug(session=session, slug="minsoc")
    existing = {c.type: c for c in await channel_service.list_for(session=session, agency_id=minsoc.id)}
    wanted = {
        "viber": ("Viber", {"sender_name": "Мінсоцполітики"}, {"token": VIBER_TOKEN}),
        "whatsapp": (
            "WhatsApp",
            {"phone_number_id": WHATSAPP["phone_number_id"]},
            {k: WHATSAPP[k] for k in ("token", "app_secret", "verify_token")},
        ),
        "messenger": (
            "Messenger",
            {"page_id": MESSENGER["page_id"]},
            {k: MESSENGER[k] for k in ("page_token", "app_secret", "verify_token")},
        ),
    }
    for kind, (name, config, secrets) in wanted.items():
        channel = existing.get(kind)
        if channel is None:
            channel = await channel_service.add(
                session=session, agency=minsoc, type=kind, name=name, config=config, secrets=secrets
            )
        channel.config = {**channel.config, **config, "api_base": sandbox_url}
        telegram_ids[kind] = channel.id
    await session.commit()
    return telegram_ids


async def _seed_routing(*, session: AsyncSession) -> None:
    agencies = {slug: await agency_service.require_by_slug(session=session, slug=slug) for slug in AGENCY_ROUTING}
    for slug, agency in agencies.items():
        settings = AGENCY_ROUTING[slug]
        agency.working_hours = settings["working_hours"]
        agency.languages = settings["languages"]
        agency.triage_enabled = True
        agency.queue_notices = True
        agency.default_strategy = "balanced"
        for other in settings["accepts_from"]:
            if await session.get(TransferPartner, (agency.id, agencies[other].id)) is None:
                session.add(TransferPartner(agency_id=agency.id, from_agency_id=agencies[other].id))
        topics = {t.slug: t for t in await agency_service.list_topics(session=session, agency_id=agency.id)}
        for topic_slug, topic in topics.items():
            keywords, names = TOPIC_ROUTING.get(topic_slug, ([], {}))
            topic.keywords, topic.names = keywords, names
        for agent in await agent_service.in_agency(session=session, agency_id=agency.id):
            wanted_topics, languages = SKILLS.get(agent.email, ([], []))
            have = await session.execute(
                select(AgentSkill.topic_id, AgentSkill.level).where(AgentSkill.agent_id == agent.id)
            )
            levels = {topic_id: level for topic_id, level in have}
            wanted = {topics[slug].id: 3 for slug in wanted_topics if slug in topics}
            if wanted.keys() - levels.keys():
                await assign.store_skills(
                    session=session, agent_id=agent.id, agency_id=agent.agency_id, levels=wanted | levels
                )
            spoken_query = select(AgentLanguage.language).where(AgentLanguage.agent_id == agent.id)
            spoken = set(await session.scalars(spoken_query))
            session.add_all(AgentLanguage(agent_id=agent.id, language=code) for code in languages if code not in spoken)
        routing_config.forget(agency.id)
    await session.flush()
