"""What replies cost and what is left, drawn: the cost under each reply, the conversation's in the
sidebar, budget warnings, the models to continue on after a daily limit, "ask again" for a cached
answer, "retry on demand" after a flex 498; the Usage page's costs, the Models page's limits, the
Settings page's Spending section.

Everything decided here is decided in chatbot/ (pricing, costs, budgets, model_limits,
answer_cache, spend); this module only draws it and turns clicks into the chat page's actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot import speech
from chatbot.answer_cache import AnswerCache
from chatbot.budgets import Budgets, PeriodStatus
from chatbot.conversation import Turn
from chatbot.costs import Costs
from chatbot.errors import ChatError, InvalidInput
from chatbot.i18n import t, t_md
from chatbot.model_limits import Offer, SeenLimits
from chatbot.pricing import PRICE_FIELDS, Cost, Prices, PriceTable, rows, usd
from chatbot.providers.base import ModelInfo
from chatbot.reply import Reply, TurnSetup
from chatbot.settings import MAX_CACHE_HOURS, SERVICE_TIERS, validate
from chatbot.spend import Guard
from pages._common import Context, page_context, show_error
from pages._state import ACTION, MODEL_SWITCHES, Key, Regenerate

# One-shot choices for the next turn, set by a button and used by the run that carries it out.
TIER_ONCE = Key[str | None]("cost_tier_once")  # "retry on demand" after a flex 498
FRESH_ONCE = Key[bool]("cost_fresh_once")  # "ask the model again" under a cached answer


def _guard(ctx: Context) -> Guard | None:
    return ctx.turns.guard


def _table(ctx: Context) -> PriceTable | None:
    guard = _guard(ctx)
    return guard.table() if guard is not None else None


def cost_text(cost: Cost, model: str | None) -> str:
    """A cost as words: dollars ("≈" for estimated tokens), or unknown, never $0 for unknown."""
    if cost.usd is None:
        return t_md("cost.unknown", model=model or "?")
    amount = usd(cost.usd)
    return t_md("cost.estimated", cost=amount) if cost.estimated else t_md("cost.reply", cost=amount)


def turn_setup(setup: TurnSetup) -> TurnSetup:
    """This run's setup with the one-shot choices of a button clicked on the last run."""
    tier = TIER_ONCE.pop(None)
    fresh = FRESH_ONCE.pop(False)
    if tier is not None:
        setup = replace(setup, settings=replace(setup.settings, service_tier=tier))
    return replace(setup, fresh=True) if fresh else setup


def _again(message_id: str, tier: str | None = None, fresh: bool = False) -> None:
    if tier is not None:
        TIER_ONCE.set(tier)
    if fresh:
        FRESH_ONCE.set(True)
    ACTION.set(Regenerate(message_id))


def under_reply(turn: Turn) -> None:
    """Under a reply: what it cost (cached prompt tokens said), "from cache" with "ask again",
    and after a flex 498 "retry on demand"."""
    if turn.role != "assistant" or turn.status == "streaming":
        return
    ctx = page_context()
    table = _table(ctx)
    if turn.from_cache:
        st.caption(t("cost.from_cache"))
        st.button(
            t("cost.ask_again"),
            icon=":material/refresh:",
            key=f"ask_again_{turn.id}",
            type="tertiary",
            on_click=_again,
            args=(turn.id, None, True),
        )
    elif table is not None and (turn.prompt_tokens or turn.completion_tokens):
        from chatbot.pricing import reply_cost

        cost = reply_cost(
            table.price(turn.provider, turn.model),
            turn.prompt_tokens,
            turn.completion_tokens,
            turn.cached_tokens,
            turn.tokens_estimated,
        )
        line = cost_text(cost, turn.model)
        if cost.cached_tokens:
            line += " · " + t_md("cost.cached_tokens", count=cost.cached_tokens)
        st.caption(line)
    if turn.error_code == "error.flex_capacity":
        _on_demand_button(turn.id, f"on_demand_{turn.id}")


def _continue_on(conversation_id: str, message_id: str, model_key: str) -> None:
    _set_model(conversation_id, model_key)
    ACTION.set(Regenerate(message_id))


def _offer_label(offer: Offer) -> str:
    if offer.requests_left is None:
        return t_md("limits.continue_with_unknown", model=offer.model.id)
    return t_md("limits.continue_with", model=offer.model.id, count=offer.requests_left)


def offer_buttons(reply: Reply) -> None:
    """After a daily limit: one button per model to continue on, best first."""
    if not reply.offers or not reply.message_id:
        return
    st.info(t_md("limits.daily_reached", model=reply.pending.model), icon=":material/event_busy:")
    _model_buttons(reply.offers, f"offer_{reply.message_id}", _continue_on, reply.conversation_id, reply.message_id)


def _model_buttons(offers: list[Offer], key: str, on_click: Callable[..., None], *args: str) -> None:
    """One button per offered model; a click calls on_click(*args, model_key)."""
    for offer in offers:
        st.button(
            _offer_label(offer),
            icon=":material/arrow_forward:",
            key=f"{key}_{offer.model.key}",
            on_click=on_click,
            args=(*args, offer.model.key),
        )


def _on_demand_button(message_id: str, key: str) -> None:
    st.button(
        t("cost.retry_on_demand"), icon=":material/bolt:", key=key, on_click=_again, args=(message_id, "on_demand")
    )


def after_reply(reply: Reply) -> None:
    """Under a reply just streamed: the flex retry, the offers after a daily limit, and, when
    that was the model's last request today as its headers say, the offers at once."""
    ctx = page_context()
    setup = reply.setup
    guard = _guard(ctx)
    if reply.error is not None and reply.error.key == "error.flex_capacity" and reply.message_id:
        _on_demand_button(reply.message_id, f"on_demand_now_{reply.message_id}")
    if reply.offers:
        offer_buttons(reply)
    elif reply.complete and guard is not None and guard.daily_reached(setup.model) and reply.message_id:
        reply.offers = guard.offers(setup.model, setup.fallbacks)
        if reply.offers:
            st.info(t_md("limits.last_request", model=setup.model.id), icon=":material/event_busy:")
            _model_buttons(reply.offers, f"offer_next_{reply.message_id}", _set_model, reply.conversation_id)


def _set_model(conversation_id: str, model_key: str) -> None:
    ctx = page_context()
    ctx.conversations.set_model(conversation_id, model_key)
    switched = MODEL_SWITCHES.setdefault({})
    switched[conversation_id] = switched.get(conversation_id, 0) + 1  # a fresh model box (chat.py)


def falling_back(reply: Reply, model: ModelInfo) -> None:
    st.info(t_md("limits.falling_back", old=reply.pending.model, model=model.id), icon=":material/swap_horiz:")


def _budget_line(status: PeriodStatus) -> str:
    key = f"budget.{status.period}_{'reached' if status.reached else 'warn'}"
    return t_md(key, spent=usd(status.spent.known), budget=usd(status.budget), share=int(status.share * 100))


def sidebar(conversation_id: str | None) -> DeltaGenerator:
    """The open conversation's cost so far (in the returned slot, which the chat page's
    fragment fills again after each reply: ``conversation_cost``), and a budget warning at 80%
    (a notice at 100%)."""
    slot = st.empty()
    ctx = page_context()
    guard = _guard(ctx)
    if guard is None:
        return slot
    try:
        conversation_cost(slot, conversation_id)
        for status in guard.budgets.status(ctx.turns.owner, guard.table()):
            if status.reached:
                st.error(_budget_line(status), icon=":material/money_off:")
            elif status.warn:
                st.warning(_budget_line(status), icon=":material/savings:")
        if conversation_id:
            _day_used_up(ctx, guard, conversation_id)
    except ChatError as error:
        show_error(error)
    return slot


def conversation_cost(slot: DeltaGenerator, conversation_id: str | None) -> None:
    """The conversation's cost so far, written into ``slot`` (empty without one)."""
    ctx = page_context()
    guard = _guard(ctx)
    cost = (
        Costs(guard.sessions, ctx.turns.owner, guard.table()).conversation(conversation_id)
        if guard and conversation_id
        else None
    )
    if cost is not None and (cost.known or cost.unknown):
        slot.caption(t_md("cost.conversation", cost=_sum_text(cost)))
    else:
        slot.empty()  # written on every run: the fragment fills it later (Streamlit's rule)


def _day_used_up(ctx: Context, guard: Guard, conversation_id: str) -> None:
    """The conversation's model has no request left today as last seen: where to go on."""
    summary = ctx.history.summary(conversation_id)
    catalogue = ctx.catalogue()
    model = catalogue.find(summary.model_key) if summary else None
    if model is None or not guard.daily_reached(model):
        return
    st.warning(t_md("limits.daily_reached", model=model.id), icon=":material/event_busy:")
    for offer in guard.offers(model, catalogue.models):
        st.button(
            _offer_label(offer),
            icon=":material/arrow_forward:",
            key=f"offer_model_{offer.model.key}",
            on_click=_set_model,
            args=(conversation_id, offer.model.key),
        )


def batch_run_cost(run_id: str) -> None:
    """What a batch run's answered rows cost so far, priced like replies (chatbot.costs)."""
    ctx = page_context()
    guard = _guard(ctx)
    if guard is None:
        return
    cost = Costs(guard.sessions, ctx.turns.owner, guard.table()).batch_run(run_id)
    if cost.known or cost.unknown:
        st.caption(t_md("cost.reply", cost=_sum_text(cost)))


def _sum_text(cost: Cost) -> str:
    """A sum of replies: known dollars, and how many replies have no known price."""
    text = ("≈ " if cost.estimated else "") + usd(cost.known)
    return t("cost.sum_with_unknown", cost=text, count=cost.unknown) if cost.unknown else text


# --- the Usage page ----------------------------------------------------------------------------


def usage_section(days: int) -> None:
    """Cost per day and model over the period, the period's and the month's totals so far."""
    ctx = page_context()
    guard = _guard(ctx)
    if guard is None:
        return
    table = guard.table()
    costs = Costs(guard.sessions, ctx.turns.owner, table)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, month_start = today - timedelta(days=days - 1), today.replace(day=1)
    cost_rows = costs.by_day_and_model(start) + costs.audio(start) + costs.speech(start, speech.MODEL)
    cost_rows = sorted(cost_rows, key=lambda r: r.day)
    others = costs.audio(month_start) + costs.speech(month_start, speech.MODEL)  # voice in, read aloud
    month = costs.since(month_start) + sum((r.cost for r in others), Cost())
    st.subheader(t("cost.title"))
    left, right = st.columns(2)
    left.metric(t("cost.month_to_date"), _sum_text(month))
    right.metric(t("cost.period_total", count=days), _sum_text(sum((r.cost for r in cost_rows), Cost())))
    if any(r.cost.unknown for r in cost_rows) or month.unknown:
        st.caption(t("cost.unknown_note"))
    if cost_rows:
        st.dataframe(
            [
                {
                    t("usage.day"): r.day,
                    t("usage.model"): r.model,
                    t("cost.column"): _sum_text(r.cost)
                    if r.cost.known or not r.cost.unknown
                    else t("cost.unknown_short"),
                    t("cost.cached_column"): f"{r.cost.cached_tokens:,}",
                }
                for r in cost_rows
            ],
            hide_index=True,
            width="stretch",
        )
    st.caption(t_md("cost.source", source=table.source, as_of=table.as_of))


# --- the Models page ---------------------------------------------------------------------------


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "–"
    seconds = max(0, int((now - moment).total_seconds()))
    return t("limits.ago", wait=_wait(seconds))


def _in(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "–"
    seconds = int((moment - now).total_seconds())
    return t("limits.reset_passed") if seconds <= 0 else t("limits.in", wait=_wait(seconds))


def _wait(seconds: int) -> str:
    from chatbot.errors import Wait

    return f"{Wait(seconds)}"


def add_limits(rows: list[dict[str, Any]], models: list[ModelInfo]) -> None:
    """Each Groq model's limits as last seen, as columns of the Models page's table (``rows``
    in the order of ``models``): requests left today, tokens left this minute, when each
    resets, the last limit hit, and how long ago they were seen."""
    ctx = page_context()
    guard = _guard(ctx)
    if guard is None or guard.limits is None:
        return
    seen: dict[str, SeenLimits] = guard.limits.all()
    now = guard.limits.now()
    for row, m in zip(rows, models, strict=True):
        s = seen.get(m.id) if m.provider == "groq" else None
        row[t("limits.requests_left")] = _left(s.requests_left(now), s.limit_requests) if s else "–"
        row[t("limits.requests_reset")] = _in(s.requests_reset_at, now) if s else "–"
        row[t("limits.tokens_left")] = _left(s.remaining_tokens, s.limit_tokens) if s else "–"
        row[t("limits.tokens_reset")] = _in(s.tokens_reset_at, now) if s else "–"
        row[t("limits.last_429")] = _limited(s, now) if s else "–"
        row[t("limits.seen")] = _ago(s.seen_at or s.limited_at, now) if s else t("limits.not_seen")


def limits_note() -> None:
    if _guard(page_context()) is not None:
        st.caption(f"{t('limits.title')}: {t('limits.hint')}")


def _left(left: int | None, limit: int | None) -> str:
    if left is None:
        return "–"
    return f"{left:,} / {limit:,}" if limit else f"{left:,}"


def _limited(seen: SeenLimits, now: datetime) -> str:
    if not seen.limited_window:
        return "–"
    return t("limits.limited", window=seen.limited_window, when=_ago(seen.limited_at, now))


# --- the Settings page -------------------------------------------------------------------------


def settings_section() -> None:
    """Service tier, fallback and answer cache (each person's); prices and budgets (admins')."""
    ctx = page_context()
    guard = _guard(ctx)
    settings = ctx.settings
    st.subheader(t("spending.title"))
    with st.form("spending_form"):
        tier = st.selectbox(
            t("spending.service_tier"),
            SERVICE_TIERS,
            index=SERVICE_TIERS.index(settings.service_tier) if settings.service_tier in SERVICE_TIERS else 0,
            format_func=lambda v: t(f"spending.tier.{v}"),
            help=t("spending.service_tier_help"),
        )
        auto = st.toggle(t("spending.auto_fallback"), settings.auto_fallback, help=t("spending.auto_fallback_help"))
        cache = st.toggle(t("spending.answer_cache"), settings.answer_cache, help=t("spending.answer_cache_help"))
        hours = st.number_input(
            t("spending.cache_hours"),
            min_value=1,
            max_value=MAX_CACHE_HOURS,
            value=settings.answer_cache_hours,
            step=1,
            help=t("spending.cache_hours_help", limit=MAX_CACHE_HOURS),
        )
        if st.form_submit_button(t("spending.save"), icon=":material/save:"):
            try:
                chosen = validate(
                    replace(
                        settings,
                        service_tier=tier,
                        auto_fallback=auto,
                        answer_cache=cache,
                        answer_cache_hours=int(hours),
                    )
                )
            except InvalidInput as error:
                show_error(error)
            else:
                ctx.preferences.save_settings(chosen)
                st.toast(t("settings.saved"), icon=":material/check:")
                st.rerun()
    if guard is None:
        return
    kept = AnswerCache(guard.sessions, ctx.turns.owner).count()
    if st.button(t("spending.clear_cache", count=kept), icon=":material/delete_sweep:", disabled=not kept):
        AnswerCache(guard.sessions, ctx.turns.owner).clear()
        st.toast(t("spending.cache_cleared"), icon=":material/check:")
        st.rerun()
    _budgets_section(ctx, guard)
    _prices_section(ctx, guard)


def _budgets_section(ctx: Context, guard: Guard) -> None:
    budgets: Budgets = guard.budgets
    mine = budgets.limits_for(ctx.turns.owner)
    st.markdown(t_md("spending.budgets"))
    st.caption(
        t_md(
            "spending.your_budget",
            daily=usd(mine.daily) if mine.daily is not None else t("spending.none"),
            monthly=usd(mine.monthly) if mine.monthly is not None else t("spending.none"),
        )
    )
    if not ctx.actor.admin:
        st.caption(t("spending.budgets_admin_only"))
        return
    with st.form("budgets_form"):
        person = (
            st.text_input(t("spending.budget_person"), help=t("spending.budget_person_help"), max_chars=255)
            if ctx.actor.signed_in
            else ""
        )
        daily = st.text_input(t("spending.daily"), placeholder="5.00", max_chars=20)
        monthly = st.text_input(t("spending.monthly"), placeholder="50.00", max_chars=20)
        if st.form_submit_button(t("spending.save_budget"), icon=":material/save:"):
            try:
                budgets.set_limits(ctx.actor, daily, monthly, person.strip() or None)
            except ChatError as error:
                show_error(error)
            else:
                st.toast(t("settings.saved"), icon=":material/check:")
                st.rerun()
    people = budgets.people()
    if people:
        st.dataframe(
            [
                {
                    t("spending.budget_person"): owner,
                    t("spending.daily"): usd(b.daily) if b.daily is not None else "–",
                    t("spending.monthly"): usd(b.monthly) if b.monthly is not None else "–",
                }
                for owner, b in sorted(people.items())
            ],
            hide_index=True,
        )


def _prices_section(ctx: Context, guard: Guard) -> None:
    prices: Prices = guard.prices
    table = prices.table()
    st.markdown(t_md("spending.prices"))
    st.caption(t_md("cost.source", source=table.source, as_of=table.as_of))
    st.dataframe(
        [
            {
                t("models.id"): r.model + (" *" if r.overridden else ""),
                **{t(f"price.{name}"): _price(getattr(r.price, name)) for name in PRICE_FIELDS},
            }
            for r in rows(table)
        ],
        hide_index=True,
        width="stretch",
    )
    if not ctx.actor.admin:
        st.caption(t("spending.prices_admin_only"))
        return
    with st.form("price_form", clear_on_submit=True):
        model = st.text_input(t("spending.price_model"), max_chars=200, help=t("spending.price_model_help"))
        entered = {name: st.text_input(t(f"price.{name}"), max_chars=20) for name in PRICE_FIELDS}
        if st.form_submit_button(t("spending.save_price"), icon=":material/save:"):
            try:
                prices.set_price(ctx.actor, model, entered)
            except ChatError as error:
                show_error(error)
            else:
                st.toast(t("settings.saved"), icon=":material/check:")
                st.rerun()


def _price(value: object) -> str:
    return f"${value}" if value is not None else t("cost.unknown_short")
