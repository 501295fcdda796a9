"""Messenger channels: connect, list, check, register webhooks."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from civdesk.agency import service as agency_service
from civdesk.channel import service as channel_service
from civdesk.channels import registry
from civdesk.cli.support import current_settings, fail, with_session
from civdesk.core.errors import InvalidInput

channel_app = typer.Typer(help="Messenger channels.", no_args_is_help=True)
channel_add_app = typer.Typer(help="Connect a messenger account.", no_args_is_help=True)
channel_app.add_typer(channel_add_app, name="add")


def _print_channel(channel: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(channel, ensure_ascii=False, default=str))
    else:
        typer.echo(f"channel {channel['id']} ({channel['type']}) created; webhook path {channel['webhook_path']}")


@channel_add_app.command("telegram")
def channel_add_telegram(
    agency: Annotated[str, typer.Option("--agency")],
    token: Annotated[str, typer.Option("--token", help="the bot token from @BotFather")],
    secret: Annotated[str | None, typer.Option("--secret", help="webhook secret; generated if omitted")] = None,
    api_base: Annotated[str | None, typer.Option("--api-base", help="instead of https://api.telegram.org")] = None,
    name: Annotated[str | None, typer.Option("--name")] = None,
    polling: Annotated[bool, typer.Option("--polling", help="receive by getUpdates instead of a webhook")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Connect a Telegram bot."""
    if ":" not in token:
        fail("a Telegram token looks like 123456:ABC-DEF…")

    async def action(session: AsyncSession) -> dict[str, Any]:
        found = await agency_service.require_by_slug(session=session, slug=agency)
        config: dict[str, Any] = {"receive_mode": "polling" if polling else "webhook"}
        if api_base:
            config["api_base"] = api_base.rstrip("/")
        channel = await channel_service.add(
            session=session,
            agency=found,
            type="telegram",
            name=name or f"Telegram {token.split(':')[0]}",
            config=config,
            secrets={"token": token, "secret": secret or channel_service.new_webhook_secret()},
        )
        return channel_service.to_read(channel).model_dump(mode="json")

    _print_channel(with_session(current_settings(), action), as_json)


@channel_add_app.command("webchat")
def channel_add_webchat(
    agency: Annotated[str, typer.Option("--agency")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Switch on the web chat at /chat/{agency}."""

    async def action(session: AsyncSession) -> dict[str, Any]:
        found = await agency_service.require_by_slug(session=session, slug=agency)
        channel = await channel_service.add(session=session, agency=found, type="webchat", name="Веб-чат")
        return channel_service.to_read(channel).model_dump(mode="json")

    _print_channel(with_session(current_settings(), action), as_json)


def _add(*, agency: str, type: str, name: str, config: dict[str, Any], secrets: dict[str, Any], as_json: bool) -> None:
    async def action(session: AsyncSession) -> dict[str, Any]:
        found = await agency_service.require_by_slug(session=session, slug=agency)
        channel = await channel_service.add(
            session=session, agency=found, type=type, name=name, config=config, secrets=secrets
        )
        return channel_service.to_read(channel).model_dump(mode="json")

    _print_channel(with_session(current_settings(), action), as_json)


def _base(api_base: str | None) -> dict[str, Any]:
    return {"api_base": api_base.rstrip("/")} if api_base else {}


ApiBase = Annotated[str | None, typer.Option("--api-base", help="stands in for the platform's host (sandbox)")]
AsJson = Annotated[bool, typer.Option("--json")]


@channel_add_app.command("viber")
def channel_add_viber(
    agency: Annotated[str, typer.Option("--agency")],
    token: Annotated[str, typer.Option("--token", help="the bot's authentication token from the Viber admin panel")],
    name: Annotated[str | None, typer.Option("--name", help="the sender name citizens see (≤28 characters)")] = None,
    api_base: ApiBase = None,
    as_json: AsJson = False,
) -> None:
    """Connect a Viber bot (https://chatapi.viber.com)."""
    config = _base(api_base) | {"sender_name": (name or "Держслужба")[:28]}
    _add(agency=agency, type="viber", name=name or "Viber", config=config, secrets={"token": token}, as_json=as_json)


@channel_add_app.command("whatsapp")
def channel_add_whatsapp(
    agency: Annotated[str, typer.Option("--agency")],
    token: Annotated[str, typer.Option("--token", help="a permanent system-user access token")],
    phone_number_id: Annotated[str, typer.Option("--phone-number-id")],
    app_secret: Annotated[str, typer.Option("--app-secret")],
    verify_token: Annotated[str, typer.Option("--verify-token")],
    waba_id: Annotated[
        str | None, typer.Option("--waba-id", help="business account id: register-webhook subscribes the app to it")
    ] = None,
    api_base: ApiBase = None,
    as_json: AsJson = False,
) -> None:
    """Connect a WhatsApp Business number (Cloud API, https://graph.facebook.com)."""
    _add(
        agency=agency,
        type="whatsapp",
        name=f"WhatsApp {phone_number_id}",
        config=_base(api_base) | {"phone_number_id": phone_number_id} | ({"waba_id": waba_id} if waba_id else {}),
        secrets={"token": token, "app_secret": app_secret, "verify_token": verify_token},
        as_json=as_json,
    )


@channel_add_app.command("messenger")
def channel_add_messenger(
    agency: Annotated[str, typer.Option("--agency")],
    page_token: Annotated[str, typer.Option("--page-token")],
    app_secret: Annotated[str, typer.Option("--app-secret")],
    verify_token: Annotated[str, typer.Option("--verify-token")],
    api_base: ApiBase = None,
    as_json: AsJson = False,
) -> None:
    """Connect a Facebook page's Messenger (https://graph.facebook.com)."""
    _add(
        agency=agency,
        type="messenger",
        name="Messenger",
        config=_base(api_base),
        secrets={"page_token": page_token, "app_secret": app_secret, "verify_token": verify_token},
        as_json=as_json,
    )


@channel_app.command("check")
def channel_check(channel_id: int) -> None:
    """Ask the platform who this bot is; say plainly what is wrong if it cannot answer."""

    async def action(session: AsyncSession) -> str:
        channel = await channel_service.get(session=session, channel_id=channel_id)
        adapter = channel_service.adapter(channel)
        try:
            me = await adapter.who_am_i(account=channel_service.account(channel))
        except NotImplementedError:
            return f"channel {channel_id} ({channel.type}) is served by civdesk itself: nothing to check"
        except Exception as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            raise InvalidInput(f"channel {channel_id} ({channel.type}): {reason}") from None
        finally:
            await registry.close_all()
        details = ", ".join(f"{k}={v}" for k, v in me.items() if v is not None)
        return f"channel {channel_id} ({channel.type}) is working: {details}"

    typer.echo(with_session(current_settings(), action))


@channel_app.command("register-webhook")
def channel_register_webhook(
    channel_id: int,
    public_url: Annotated[str | None, typer.Option("--public-url", help="default: CIVDESK_PUBLIC_URL")] = None,
) -> None:
    """Tell the platform to send this channel's updates to civdesk (with the channel's secret)."""
    settings = current_settings()
    base = (public_url or settings.public_url).rstrip("/")

    async def action(session: AsyncSession) -> str:
        channel = await channel_service.get(session=session, channel_id=channel_id)
        url = f"{base}{channel_service.webhook_path(channel)}"
        adapter = channel_service.adapter(channel)
        try:
            await adapter.register_webhook(account=channel_service.account(channel), url=url)
        except NotImplementedError:
            raise InvalidInput(f"{channel.type} channels need no webhook registration") from None
        except Exception as exc:
            raise InvalidInput(f"the platform refused the webhook: {exc}") from None
        finally:
            await registry.close_all()
        return url

    typer.echo(f"webhook registered: {with_session(settings, action)}")


@channel_app.command("list")
def channel_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List channels (secrets are never shown)."""

    async def action(session: AsyncSession) -> list[dict[str, Any]]:
        return [
            channel_service.to_read(c).model_dump(mode="json") for c in await channel_service.list_for(session=session)
        ]

    rows = with_session(current_settings(), action)
    for row in rows:
        typer.echo(
            json.dumps(row, ensure_ascii=False)
            if as_json
            else f"{row['id']:>4}  {row['type']:<9} agency {row['agency_id']:<4} {row['name']}  {row['webhook_path']}"
        )
