"""Compare two models in the browser, blind: both replies side by side under "Reply A" and
"Reply B", the models hidden until the vote; the vote reveals them and the Leaderboard page
ranks the winner first. Three models: one stopped alone, a reload shows all three, each continues
its own branch; three blind replies keep their letters over a reload and are ranked. The last two
on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from chatbot.store.models import Vote
from tests.browser.harness import (
    WAIT_MS,
    AppServer,
    click_and_wait,
    conversation_id,
    database,
    open_app,
    reload,
    script_runs,
    sidebar,
    type_message,
    wait_for_idle,
    wait_until,
)
from tests.stand_in_groq import StandInGroq, make_reply

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

FAST, SMALL, BIG = "llama-3.1-8b-instant", "openai/gpt-oss-20b", "qwen/qwen3.8-27b"
# Neither text names its model: blind mode must not be given away by the replies themselves.
ANSWERS = {FAST: "Short and sweet.", SMALL: "A longer, more careful answer."}


def answer(body: dict[str, Any]) -> str:
    return ANSWERS.get(body["model"], "Something else.")


def choose_model(page: Page, model: str) -> None:
    box = sidebar(page).get_by_test_id("stMultiSelect")
    box.locator("input").click()
    box.locator("input").fill(model)
    option = page.get_by_role("option").filter(has_text=model).first
    expect(option).to_be_visible()
    before = script_runs(page)
    option.click()
    wait_for_idle(page, since=before)
    page.keyboard.press("Escape")


def test_compare_two_models_vote_blind_and_see_the_leaderboard(
    page: Page, app_server: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.reply = answer
    open_app(page, app_server.url)
    click_and_wait(page, sidebar(page).get_by_text("Compare models", exact=True))  # shows the choice
    click_and_wait(page, sidebar(page).get_by_text("Blind mode", exact=True))
    expect(sidebar(page).get_by_role("switch", name="Blind mode")).to_be_checked()
    choose_model(page, FAST)
    choose_model(page, SMALL)

    before = type_message(page, "Which answer is better?")
    wait_for_idle(page, since=before)
    main = page.get_by_test_id("stMainBlockContainer")
    vote_a = main.get_by_role("button", name="A is better")
    expect(vote_a).to_be_visible(timeout=WAIT_MS)
    for text in ANSWERS.values():  # both replies, side by side
        expect(main.get_by_text(text)).to_be_visible()
    expect(main.get_by_text("Reply A", exact=True)).to_be_visible()
    expect(main.get_by_text("Reply B", exact=True)).to_be_visible()
    columns = main.get_by_test_id("stHorizontalBlock").filter(has_text="Reply A").last
    shown = columns.inner_text()
    assert "Reply B" in shown and FAST not in shown and SMALL not in shown  # which is which: hidden until the vote
    reply_a = columns.get_by_test_id("stColumn").filter(has_text="Reply A").first.inner_text()
    requested = sorted(r["json"]["model"] for r in stand_in.chat_requests)
    assert requested == sorted([FAST, SMALL])

    click_and_wait(page, vote_a)
    revealed = main.get_by_text("Reply A: ")
    expect(revealed).to_be_visible()
    winner = revealed.inner_text().split(": ", 1)[1].strip()
    assert winner in (FAST, SMALL) and ANSWERS[winner] in reply_a  # the model named is the one that wrote Reply A
    loser = SMALL if winner == FAST else FAST

    cid = conversation_id(page)
    assert cid is not None
    with database(f"sqlite:///{app_server.data_dir / 'chat.db'}") as sessions:

        def voted() -> list[Vote]:
            with sessions() as s:
                return list(s.scalars(select(Vote)))

        assert wait_until(lambda: len(voted()) == 1)
        vote = voted()[0]
        assert vote.verdict == "a" and vote.conversation_id == cid
        assert {e["model"]: e["rank"] for e in vote.ranking} == {f"groq:{winner}": 1, f"groq:{loser}": 2}

    click_and_wait(page, page.get_by_role("link", name="Leaderboard"))
    table = page.get_by_test_id("stTable")
    expect(table).to_be_visible()
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    assert f"groq:{winner}" in rows.nth(0).inner_text()
    assert f"groq:{loser}" in rows.nth(1).inner_text()
    expect(page.get_by_text("From 1 vote.")).to_be_visible()


def test_three_models_one_stopped_reload_and_each_continues_its_own_branch(
    page: Page, app_server_each_db: AppServer, stand_in: StandInGroq
) -> None:
    app_server = app_server_each_db
    long_reply = make_reply(3000)  # ~60 s at 50 tokens/s: still streaming when its Stop is pressed
    stand_in.reply = lambda body: long_reply if body["model"] == BIG else answer(body)
    stand_in.tokens_per_second = 50
    open_app(page, app_server.url)
    click_and_wait(page, sidebar(page).get_by_text("Compare models", exact=True))
    for model in (FAST, SMALL, BIG):
        choose_model(page, model)

    type_message(page, "Three at once?")
    main = page.get_by_test_id("stMainBlockContainer")
    column = {m: main.get_by_test_id("stColumn").filter(has_text=m) for m in (FAST, SMALL, BIG)}
    for model in (FAST, SMALL):
        expect(column[model].get_by_text(ANSWERS[model])).to_be_visible()
    expect(column[BIG].get_by_text(long_reply.split()[0]).first).to_be_visible()  # streaming
    column[BIG].get_by_role("button", name="Stop").click()
    assert wait_until(lambda: stand_in.closed_early >= 1, page=page), "the stopped model's stream was not closed"
    expect(column[BIG].get_by_text("Stopped.")).to_be_visible()
    expect(main.get_by_role("button", name="Continue with this reply")).to_have_count(3)

    reload(page)  # the comparison is in the database: all three again
    for model in (FAST, SMALL):
        expect(column[model].get_by_text(ANSWERS[model])).to_be_visible()
    expect(column[BIG].get_by_text("Stopped.")).to_be_visible()
    partial = column[BIG].get_by_test_id("stChatMessage").first.inner_text()

    stand_in.reset()
    stand_in.tokens_per_second = None
    stand_in.reply = lambda body: f"second answer of {body['model']}"
    before = type_message(page, "And now?")
    wait_for_idle(page, since=before)
    for model in (FAST, SMALL, BIG):
        expect(column[model].get_by_text(f"second answer of {model}")).to_be_visible()
    sent = {
        r["json"]["model"]: [m["content"] for m in r["json"]["messages"] if m["role"] != "system"]
        for r in stand_in.chat_requests
    }
    assert sent[FAST] == ["Three at once?", ANSWERS[FAST], "And now?"]  # its own answer, not the others'
    assert sent[SMALL] == ["Three at once?", ANSWERS[SMALL], "And now?"]
    assert sent[BIG][0] == "Three at once?" and sent[BIG][2] == "And now?"
    assert sent[BIG][1].split()[0] == long_reply.split()[0] and len(sent[BIG][1]) < len(long_reply)
    # What the page showed of the stopped reply after the reload is what was saved and sent back.
    assert " ".join(sent[BIG][1].split()) in " ".join(partial.split())

    click_and_wait(page, column[SMALL].get_by_role("button", name="Continue with this reply"))
    expect(main.get_by_role("button", name="Continue with this reply")).to_have_count(0)
    expect(main.get_by_text(f"second answer of {SMALL}")).to_be_visible()
    expect(main.get_by_text(f"second answer of {FAST}")).to_have_count(0)
    # One model again: the switch is off and the choice of models is no longer drawn.
    expect(sidebar(page).get_by_role("switch", name="Compare models")).not_to_be_checked()
    expect(sidebar(page).get_by_test_id("stMultiSelect")).to_have_count(0)


THREE = {FAST: "Short and sweet.", SMALL: "A longer, more careful answer.", BIG: "Somewhere in between."}


def letters(page: Page) -> dict[str, str]:
    """Each blind column's heading and the reply under it."""
    main = page.get_by_test_id("stMainBlockContainer")
    out = {}
    for column in main.get_by_test_id("stColumn").filter(has_text="Reply ").all():
        heading = column.get_by_test_id("stMarkdownContainer").first.inner_text().strip()
        out[heading] = next(text for text in THREE.values() if text in column.inner_text())
    return out


def columns_text(page: Page) -> str:
    return "\n".join(
        c.inner_text() for c in page.get_by_test_id("stMainBlockContainer").get_by_test_id("stColumn").all()
    )


def test_three_blind_replies_keep_their_letters_over_a_reload_and_are_ranked(
    page: Page, app_server_each_db: AppServer, stand_in: StandInGroq
) -> None:
    stand_in.reply = lambda body: THREE[body["model"]]
    open_app(page, app_server_each_db.url)
    click_and_wait(page, sidebar(page).get_by_text("Compare models", exact=True))  # shows the choice
    click_and_wait(page, sidebar(page).get_by_text("Blind mode", exact=True))
    for model in (FAST, SMALL, BIG):
        choose_model(page, model)
    before = type_message(page, "Rank the three")
    wait_for_idle(page, since=before)
    main = page.get_by_test_id("stMainBlockContainer")
    vote = main.get_by_role("button", name="Vote with this ranking")
    expect(vote).to_be_visible(timeout=WAIT_MS)
    shown = letters(page)
    assert sorted(shown) == ["Reply A", "Reply B", "Reply C"] and sorted(shown.values()) == sorted(THREE.values())
    assert not any(m in columns_text(page) for m in THREE)  # no column names its model before the vote

    reload(page)  # a new browser session: still hidden, each reply under the same letter
    expect(vote).to_be_visible()
    assert letters(page) == shown
    assert not any(m in columns_text(page) for m in THREE)

    model_of = {text: m for m, text in THREE.items()}
    ranks = {"Reply C": "1", "Reply A": "2", "Reply B": "3"}  # C best, then A, then B
    for heading, rank in ranks.items():
        column = main.get_by_test_id("stColumn").filter(has_text=shown[heading])
        column.get_by_test_id("stSelectbox").click()
        before = script_runs(page)
        page.get_by_role("option", name=rank, exact=True).click()
        wait_for_idle(page, since=before)
    click_and_wait(page, vote)
    for heading, text in shown.items():  # revealed: each letter names the model that wrote its reply
        expect(main.get_by_text(f"{heading}: {model_of[text]}", exact=True)).to_be_visible()

    click_and_wait(page, page.get_by_role("link", name="Leaderboard"))
    rows = page.get_by_test_id("stTable").locator("tbody tr")
    expect(rows).to_have_count(3)
    order = [model_of[shown[h]] for h in ("Reply C", "Reply A", "Reply B")]
    assert [next(m for m in THREE if f"groq:{m}" in rows.nth(i).inner_text()) for i in range(3)] == order
