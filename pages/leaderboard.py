"""The leaderboard: models rated from this person's own blind votes (chatbot/leaderboard.py).

A Bradley–Terry fit (ties as half wins) with each rating's 95% interval and the votes behind
it; a tag keeps only the votes of conversations tagged with it.
"""

import streamlit as st

from chatbot.errors import ChatError
from chatbot.i18n import t
from chatbot.leaderboard import leaderboard
from chatbot.votes import Votes
from pages._common import Context, page_context, show_error

ctx: Context = page_context()

st.title(t("leaderboard.title"))
st.caption(t("leaderboard.intro"))
votes = Votes(ctx.sessions, ctx.turns.owner)
try:
    tags = ctx.history.all_tags()
    tag = st.selectbox(
        t("leaderboard.tag"),
        [None, *tags],
        format_func=lambda value: t("leaderboard.all_tags") if value is None else value,
        key="leaderboard_tag",
    )
    ballots = votes.ballots(tag)
except ChatError as error:
    show_error(error)
    st.stop()

if not ballots:
    st.info(t("leaderboard.empty"), icon=":material/how_to_vote:")
    st.stop()

st.caption(t("leaderboard.summary", count=len(ballots)))
rows = [
    {
        t("leaderboard.rank"): place,
        t("leaderboard.model"): rating.model,
        t("leaderboard.rating"): f"{rating.rating:.0f}",
        t("leaderboard.interval"): f"{rating.low:.0f} – {rating.high:.0f}",
        t("leaderboard.votes"): rating.votes,
        t("leaderboard.wins"): f"{rating.wins:g} / {rating.games}",
    }
    for place, rating in enumerate(leaderboard(ballots), start=1)
]
st.table(rows, hide_index=True)  # an HTML table: every row readable, and selectable as text
st.caption(t("leaderboard.method"))
