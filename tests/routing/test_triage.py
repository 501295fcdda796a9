"""Triage in the messenger: topics as buttons, numbers, free text matched to keywords, languages."""

from __future__ import annotations

from tests.routing.desk import Desk


async def _agency(desk: Desk) -> None:
    await desk.configure(default_strategy="balanced", triage_enabled=True, languages=["uk", "en"])
    await desk.topic("subsidies", "Субсидії", keywords=["субсид", "комунальн"], names={"en": "Housing subsidies"})
    await desk.topic("idp", "Допомога ВПО", keywords=["впо", "переселен"], names={"en": "IDP assistance"})
    await desk.topic("birth", "Допомога при народженні дитини", keywords=["народжен"])
    await desk.agent("olena", topics=["subsidies", "idp", "birth"], capacity=10)


async def test_the_bot_offers_topics_and_a_button_press_routes_the_question(desk: Desk) -> None:
    await _agency(desk)
    conversation = await desk.write("c1", "Добрий день")
    await desk.fire()
    assert await desk.assignee(conversation) is None and (await desk.get(conversation)).triage_pending
    [prompt] = await desk.told(conversation)
    assert "1 — Субсидії" in prompt and "3 — Допомога при народженні дитини" in prompt
    buttons = await desk.buttons(conversation)
    assert buttons[0] == {"title": "Субсидії", "payload": f"topic:{desk.topics['subsidies']}"}
    assert buttons[2]["title"] == "Допомога при народж…"  # fits every platform's button limit
    assert buttons[-1] == {"title": "English", "payload": "lang:en"}

    await desk.write("c1", "Допомога ВПО", payload=f"topic:{desk.topics['idp']}")
    await desk.fire()
    row = await desk.get(conversation)
    assert (row.topic_id, row.triage_pending) == (desk.topics["idp"], False)
    assert "Тема: «Допомога ВПО»" in (await desk.told(conversation))[-1]
    assert await desk.assignee(conversation) == "olena"


async def test_a_number_a_question_or_nothing_recognisable(desk: Desk) -> None:
    await _agency(desk)
    by_number = await desk.write("c1", "Привіт")
    await desk.write("c1", "3")
    # A question straight away needs no menu at all when its words say the topic.
    direct = await desk.write("c2", "Як отримати субсидію на комунальні послуги?")
    unclear = await desk.write("c3", "Здрастуйте")
    await desk.write("c3", "Маю питання щодо документів")  # matches nothing: the general queue, not a loop
    await desk.fire()
    assert (await desk.get(by_number)).topic_id == desk.topics["birth"]
    assert (await desk.get(direct)).topic_id == desk.topics["subsidies"]
    assert await desk.told(direct) == []  # no menu for a question that says its topic
    row = await desk.get(unclear)
    assert (row.topic_id, row.triage_pending) == (None, False)
    assert await desk.assignee(unclear) == "olena"


async def test_the_citizen_picks_the_language(desk: Desk) -> None:
    await _agency(desk)
    conversation = await desk.write("c1", "Hi")
    await desk.write("c1", "English", payload="lang:en")
    row = await desk.get(conversation)
    assert row.language == "en" and row.triage_pending
    prompt = (await desk.told(conversation))[-1]
    assert "Choose a topic" in prompt and "1 — Housing subsidies" in prompt
    assert (await desk.buttons(conversation))[-1] == {"title": "Українська", "payload": "lang:uk"}
    # A Telegram user whose app speaks English gets English from the start.
    english = await desk.write("c2", "Hello", language="en-GB")
    assert (await desk.get(english)).language == "en" and "Choose a topic" in (await desk.told(english))[0]
