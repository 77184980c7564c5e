"""Ratings of models from a person's own votes: a Bradley–Terry fit, with bootstrap intervals.

Bradley–Terry: model i beats model j with probability p_i / (p_i + p_j). Every vote becomes its
pairwise outcomes (a ranking of four is six pairs); a tie counts half a win to each side (the
usual reading of ties in the Bradley–Terry likelihood, as in LMSYS's arena). The fit is
Hunter's MM iteration (2004), which needs no step size and never leaves p > 0.

Sparse data (a model that has only won, two models never compared) has no finite maximum:
every model also plays ``PRIOR_GAMES`` virtual games, drawn, against a fixed reference of
strength 1 (rating 1000). That pulls models with few votes towards 1000 and vanishes as votes
grow. Ratings are on the Elo scale, 400 points ≈ 10:1 odds, the models' mean at 1000.

The 95% interval comes from the Fisher information at the fit (a normal approximation on the
log-strength scale): deterministic, cheap, and wide where votes are few, which a bootstrap of
a handful of votes is not. Pure Python; ``chatbot.votes.MAX_VOTES`` bounds the votes read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from chatbot.votes import Ballot

PRIOR_GAMES = 1.0
BASE = 1000.0
SCALE = 400.0
Z_95 = 1.959964  # a 95% interval: the normal quantile
MAX_ITERATIONS = 1000
TOLERANCE = 1e-9

Pairs = dict[tuple[str, str], tuple[float, float]]  # (i, j), i < j -> (wins of i, games)


@dataclass(frozen=True)
class Rating:
    model: str
    rating: float
    low: float  # the interval's ends, on the same scale
    high: float
    votes: int  # votes this model took part in
    wins: float  # pairwise, ties as halves
    games: int  # pairwise comparisons


def pair_outcomes(ballot: Ballot) -> list[tuple[str, str, float]]:
    """(i, j, score of i): 1 won, 0.5 tied, 0 lost; one per pair of models in the vote."""
    out = []
    for (a, ra), (b, rb) in combinations(sorted(ballot.ranks.items()), 2):
        out.append((a, b, 1.0 if ra < rb else 0.5 if ra == rb else 0.0))
    return out


def _tally(outcomes: Sequence[list[tuple[str, str, float]]]) -> Pairs:
    pairs: dict[tuple[str, str], tuple[float, float]] = {}
    for vote in outcomes:
        for a, b, score in vote:
            wins, games = pairs.get((a, b), (0.0, 0.0))
            pairs[(a, b)] = (wins + score, games + 1)
    return pairs


def fit(pairs: Pairs, models: Sequence[str]) -> dict[str, float]:
    """Bradley–Terry strengths p (the reference has p = 1), by MM iteration."""
    wins = dict.fromkeys(models, PRIOR_GAMES / 2)
    opponents: dict[str, list[tuple[str, float]]] = {m: [] for m in models}
    for (a, b), (w, n) in pairs.items():
        wins[a] += w
        wins[b] += n - w
        opponents[a].append((b, n))
        opponents[b].append((a, n))
    p = dict.fromkeys(models, 1.0)
    for _ in range(MAX_ITERATIONS):
        new = {}
        for m in models:
            denominator = PRIOR_GAMES / (p[m] + 1.0) + sum(n / (p[m] + p[o]) for o, n in opponents[m])
            new[m] = wins[m] / denominator
        change = max(abs(math.log(new[m] / p[m])) for m in models) if models else 0.0
        p = new
        if change < TOLERANCE:
            break
    return p


def rating(strength: float) -> float:
    return BASE + SCALE * math.log10(strength)


def _inverse(matrix: list[list[float]]) -> list[list[float]]:
    """Gauss–Jordan with partial pivoting (the matrix is positive definite: the prior sees to it)."""
    n = len(matrix)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(matrix)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        head = a[col][col]
        a[col] = [v / head for v in a[col]]
        for r in range(n):
            if r != col and a[r][col]:
                factor = a[r][col]
                a[r] = [v - factor * w for v, w in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


def standard_errors(pairs: Pairs, p: dict[str, float], models: Sequence[str]) -> dict[str, float]:
    """Standard errors of log-strengths from the Fisher information at the fit (the inverse
    of the negative Hessian of the log-likelihood, the prior's virtual games included)."""
    index = {m: i for i, m in enumerate(models)}
    info = [[0.0] * len(models) for _ in models]
    for m in models:
        info[index[m]][index[m]] += PRIOR_GAMES * p[m] / (p[m] + 1.0) ** 2
    for (a, b), (_, n) in pairs.items():
        w = n * p[a] * p[b] / (p[a] + p[b]) ** 2
        i, j = index[a], index[b]
        info[i][i] += w
        info[j][j] += w
        info[i][j] -= w
        info[j][i] -= w
    c = _inverse(info)
    # Of each log-strength less their mean: the votes say how models compare, while the common
    # level is set only by the prior's virtual games, whose uncertainty would swamp every interval.
    n = len(models)
    row_means = [sum(row) / n for row in c]
    total_mean = sum(row_means) / n
    return {m: math.sqrt(max(c[i][i] - 2 * row_means[i] + total_mean, 0.0)) for m, i in index.items()}


def leaderboard(ballots: Sequence[Ballot]) -> list[Rating]:
    """Every model in ``ballots``, best first: rating, interval, votes, wins and games."""
    models = sorted({m for b in ballots for m in b.ranks})
    if not models:
        return []
    pairs = _tally([pair_outcomes(b) for b in ballots])
    strengths = fit(pairs, models)
    errors = standard_errors(pairs, strengths, models)
    z = Z_95 * SCALE / math.log(10)  # log-strength to rating points
    votes = {m: sum(1 for b in ballots if m in b.ranks) for m in models}
    wins = dict.fromkeys(models, 0.0)
    games = dict.fromkeys(models, 0)
    for (a, b), (w, n) in pairs.items():
        wins[a] += w
        wins[b] += n - w
        games[a] += int(n)
        games[b] += int(n)
    mean = sum(math.log10(strengths[m]) for m in models) / len(models)
    out = []
    for m in models:
        r = rating(strengths[m]) - SCALE * mean  # the models' mean rating is 1000
        out.append(Rating(m, r, r - z * errors[m], r + z * errors[m], votes[m], wins[m], games[m]))
    out.sort(key=lambda x: (-x.rating, x.model))
    return out
