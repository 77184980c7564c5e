"""The leaderboard's Bradley–Terry fit on synthetic votes whose true ordering is known: the fit
recovers it; ties count as half wins; few votes give wide intervals, never infinite ratings."""

from __future__ import annotations

import math
import random
from itertools import combinations

from chatbot.leaderboard import leaderboard, pair_outcomes
from chatbot.votes import Ballot, pair_ranks

TRUE_STRENGTH = {"groq:strong": 8.0, "groq:good": 4.0, "local:fair": 2.0, "groq:weak": 1.0}


def synthetic(votes: int, seed: int = 1, tie_share: float = 0.0) -> list[Ballot]:
    """Pairs drawn at random, each won with Bradley–Terry probability (some declared ties)."""
    rng = random.Random(seed)
    models = sorted(TRUE_STRENGTH)
    out = []
    for _ in range(votes):
        a, b = rng.sample(models, 2)
        if rng.random() < tie_share:
            out.append(Ballot({a: 1, b: 1}, "tie"))
            continue
        p = TRUE_STRENGTH[a] / (TRUE_STRENGTH[a] + TRUE_STRENGTH[b])
        out.append(Ballot({a: 1, b: 2} if rng.random() < p else {a: 2, b: 1}, "a"))
    return out


def test_the_fit_recovers_the_true_order_and_spacing() -> None:
    board = leaderboard(synthetic(2000))
    assert [r.model for r in board] == sorted(TRUE_STRENGTH, key=lambda m: -TRUE_STRENGTH[m])
    # Each true step is a factor 2: 400·log10(2) ≈ 120 rating points.
    gaps = [a.rating - b.rating for a, b in zip(board, board[1:], strict=False)]
    assert all(80 < gap < 170 for gap in gaps), gaps
    assert all(r.low < r.rating < r.high for r in board)
    assert sum(r.votes for r in board) == 2 * 2000


def test_rankings_of_four_recover_the_order_too() -> None:
    rng = random.Random(7)
    ballots = []
    for _ in range(300):  # a Plackett–Luce draw: the best of the rest, by strength, each place
        left = list(TRUE_STRENGTH)
        ranks = {}
        for place in range(1, len(left) + 1):
            pick = rng.choices(left, [TRUE_STRENGTH[m] for m in left])[0]
            ranks[pick] = place
            left.remove(pick)
        ballots.append(Ballot(ranks))
    board = leaderboard(ballots)
    assert [r.model for r in board] == ["groq:strong", "groq:good", "local:fair", "groq:weak"]
    assert {r.votes for r in board} == {300}
    assert {r.games for r in board} == {900}  # three pairs per model per ranking


def test_a_tie_is_half_a_win_to_each() -> None:
    assert pair_outcomes(Ballot({"x": 1, "y": 1})) == [("x", "y", 0.5)]
    assert pair_ranks("both_bad") == pair_ranks("tie") == (1, 1)
    board = leaderboard([Ballot({"x": 1, "y": 1}, "tie")] * 10)
    assert [r.wins for r in board] == [5.0, 5.0]
    assert math.isclose(board[0].rating, board[1].rating, abs_tol=1e-6)
    assert math.isclose(board[0].rating, 1000.0, abs_tol=1e-6)


def test_more_ties_pull_ratings_together() -> None:
    plain = leaderboard(synthetic(1500, seed=3))
    tied = leaderboard(synthetic(1500, seed=3, tie_share=0.6))
    spread = plain[0].rating - plain[-1].rating
    assert tied[0].rating - tied[-1].rating < spread
    assert [r.model for r in tied] == [r.model for r in plain]


def test_sparse_votes_give_finite_ratings_and_wide_intervals() -> None:
    one = leaderboard([Ballot({"x": 1, "y": 2}, "a")])  # x never lost: no finite maximum without the prior
    assert [r.model for r in one] == ["x", "y"]
    assert all(math.isfinite(v) for r in one for v in (r.rating, r.low, r.high))
    many = leaderboard(
        [Ballot({"x": 1, "y": 2}, "a"), Ballot({"x": 2, "y": 1}, "b")] * 200 + [Ballot({"x": 1, "y": 2})]
    )
    width_one = one[0].high - one[0].low
    width_many = many[0].high - many[0].low
    assert width_one > 3 * width_many
    assert one[0].low < one[1].high  # one vote does not separate them


def test_models_never_compared_with_each_other_still_get_ratings() -> None:
    ballots = [Ballot({"a": 1, "b": 2})] * 5 + [Ballot({"c": 1, "d": 2})] * 5
    board = leaderboard(ballots)
    assert {r.model for r in board} == {"a", "b", "c", "d"}
    assert all(math.isfinite(r.rating) for r in board)
    assert leaderboard([]) == []


def test_every_pair_of_a_ranking_is_counted_once() -> None:
    ranks = {"a": 1, "b": 2, "c": 2, "d": 4}
    outcomes = pair_outcomes(Ballot(ranks))
    assert len(outcomes) == len(list(combinations(ranks, 2)))
    assert ("b", "c", 0.5) in outcomes and ("a", "d", 1.0) in outcomes
