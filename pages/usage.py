"""Tokens used per day and per model, from the stored replies."""

import streamlit as st

from chatbot.i18n import t
from pages._common import Context, page_context

ctx: Context = page_context()

st.title(t("usage.title"))
days = st.segmented_control(t("usage.period"), [7, 30, 90], default=30, format_func=lambda d: t("usage.days", days=d))
rows = ctx.preferences.usage(days or 30)
if not rows:
    st.info(t("usage.none"))
    st.stop()

data = [
    {t("usage.day"): r.day, t("usage.model"): r.model, t("usage.total"): r.prompt_tokens + r.completion_tokens}
    for r in rows
]
st.bar_chart(data, x=t("usage.day"), y=t("usage.total"), color=t("usage.model"), stack=True)
left, right = st.columns(2)
left.metric(t("usage.prompt_total"), f"{sum(r.prompt_tokens for r in rows):,}")
right.metric(t("usage.completion_total"), f"{sum(r.completion_tokens for r in rows):,}")
st.dataframe(
    [
        {
            t("usage.day"): r.day,
            t("usage.model"): r.model,
            t("usage.prompt"): r.prompt_tokens,
            t("usage.completion"): r.completion_tokens,
        }
        for r in rows
    ],
    hide_index=True,
    width="stretch",
)
