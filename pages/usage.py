"""Tokens used per day and per model, from the stored replies.

The provider's counts and the app's estimates (replies stopped or cut before the provider
counted them) are separate series and columns; estimates are marked "≈".
"""

from datetime import UTC, date, datetime, timedelta

import streamlit as st

from chatbot.i18n import t
from chatbot.preferences import UsageRow
from pages._common import Context, page_context
from pages._cost import usage_section

ctx: Context = page_context()


def period_days(days: int) -> list[str]:
    """Every day of the period, oldest first, as the database writes them (UTC dates)."""
    today: date = datetime.now(UTC).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


def chart_rows(rows: list[UsageRow], days: int) -> tuple[list[dict[str, object]], list[str]]:
    """One row per day of the period (days without replies at 0), one column per series: so a
    single day with data is one bar among ``days``, not a bar across the chart."""
    series: dict[str, None] = {}
    by_day: dict[str, dict[str, int]] = {}
    for r in rows:
        for name, tokens in ((r.model, r.reported), (t("usage.estimated_series", model=r.model), r.estimated)):
            if tokens:
                series[name] = None
                by_day.setdefault(r.day, {})[name] = by_day.get(r.day, {}).get(name, 0) + tokens
    day_column = t("usage.day")
    data = [{day_column: d, **{s: by_day.get(d, {}).get(s, 0) for s in series}} for d in period_days(days)]
    return data, list(series)


st.title(t("usage.title"))
days = st.segmented_control(t("usage.period"), [7, 30, 90], default=30, format_func=lambda d: t("usage.days", count=d))
days = days or 30
rows = ctx.preferences.usage(days)
heard = ctx.voice.seconds_by_day(days)
if not rows and not heard:
    st.info(t("usage.none"))
    st.stop()


def shown(tokens: int, estimate: bool = False) -> str:
    return f"≈ {tokens:,}" if estimate and tokens else f"{tokens:,}"


def show_audio() -> None:
    """Voice input: Groq counts its limits in audio seconds (per hour and per day)."""
    st.subheader(t("usage.audio"))
    st.metric(t("usage.audio_total"), f"{sum(d.seconds for d in heard):,.1f} s")
    st.dataframe(
        [
            {
                t("usage.day"): d.day,
                t("usage.audio_seconds"): f"{d.seconds:,.1f}",
                t("usage.transcriptions"): f"{d.transcriptions:,}",
            }
            for d in heard
        ],
        hide_index=True,
        width="stretch",
    )


if not rows:
    show_audio()
    st.stop()

data, series = chart_rows(rows, days)
if series:
    st.bar_chart(data, x=t("usage.day"), y=series, y_label=t("usage.total"), stack=True)
estimated = sum(r.estimated for r in rows)
left, right = st.columns(2)
left.metric(t("usage.prompt_total"), f"{sum(r.prompt_tokens for r in rows):,}")
right.metric(t("usage.completion_total"), f"{sum(r.completion_tokens for r in rows):,}")
if estimated:
    st.metric(t("usage.estimated_total"), f"≈ {estimated:,}")
    st.caption(t("usage.estimated_note"))

st.dataframe(
    [
        {
            t("usage.day"): r.day,
            t("usage.model"): r.model,
            t("usage.prompt"): shown(r.prompt_tokens),
            t("usage.completion"): shown(r.completion_tokens),
            t("usage.estimated_prompt"): shown(r.estimated_prompt_tokens, True),
            t("usage.estimated_completion"): shown(r.estimated_completion_tokens, True),
        }
        for r in rows
    ],
    hide_index=True,
    width="stretch",
)
if heard:
    show_audio()
usage_section(days)  # what the replies cost: per day and model, this period and month to date
