"""Several models answer one question at once, each reply an alternative answer to it.

The replies are the siblings Regenerate makes (one per model, each recording its model), so
history, search, export and import carry a comparison with no storage of its own. While a
conversation compares, its shown message is the question the comparison started with: the
chat draws up to it, and each model's own branch below it in a column (``comparing``). The
next message goes to every model on its own branch (each sees only its own earlier answers);
``choose`` makes one reply the normal chat again.

Replies stream at the same time, each in its own thread with its own stop, independent of any
page run (a rerun of the page neither stops nor loses them). A model that fails (a 429, a
retired model) fails alone with its ``ChatError``; the others finish. Never imports Streamlit.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chatbot import context_budget
from chatbot.branches import branch_path, newest_leaf
from chatbot.conversation import ConversationService, Turn
from chatbot.database import database_errors
from chatbot.errors import ChatError, InvalidInput
from chatbot.providers.base import ModelInfo, ReasoningDelta, TextDelta, Usage
from chatbot.reply import NewChatOptions, PendingTurn, Reply, ReplyStatus, TurnSetup
from chatbot.store import repo
from chatbot.store.models import Message
from chatbot.turns import Turns, check_text

MIN_MODELS = 2
MAX_MODELS = 4
LABELS = "ABCD"  # a reply's name in blind mode: its place on the page
BLIND = "blind"  # in a blind round's question's params: its replies are hidden until the vote


def check_models(setups: Sequence[TurnSetup]) -> None:
    """2 to 4 different models, before anything is saved."""
    keys = [s.model.key for s in setups]
    if not MIN_MODELS <= len(keys) <= MAX_MODELS:
        raise InvalidInput("compare.model_count", low=MIN_MODELS, high=MAX_MODELS, count=len(keys))
    if len(set(keys)) != len(keys):
        raise InvalidInput("compare.same_model")


def blind_order(owner: str, question_ids: Iterable[str], model_keys: Sequence[str]) -> list[int]:
    """The places of a blind round's models (indexes into ``model_keys``, first shown first).

    A shuffle fixed by the round's questions and the person: while streaming, after a reload or
    in another tab the replies keep their letters, with nothing kept in the browser. The
    question ids are random, so the order tells nothing about the models; a new round (new
    questions) is shuffled anew."""
    seed = owner + "\0" + "|".join(sorted(set(question_ids)))
    return sorted(range(len(model_keys)), key=lambda i: hashlib.sha256(f"{seed}\0{model_keys[i]}".encode()).hexdigest())


# --- a comparison as stored ------------------------------------------------------------------


@dataclass(frozen=True)
class Lane:
    """One model's branch below the compared question: its answer, and what followed."""

    model_key: str
    turns: list[Turn]  # the first answer to the question, then this branch's later messages

    @property
    def leaf(self) -> str:
        return self.turns[-1].id

    @property
    def newest_reply(self) -> Turn | None:
        return next((t for t in reversed(self.turns) if t.role == "assistant"), None)

    @property
    def model(self) -> str:
        return self.model_key.partition(":")[2] or self.model_key


@dataclass(frozen=True)
class Comparing:
    """A conversation that compares: its shown question and one lane per model."""

    question_id: str
    lanes: list[Lane]
    # The questions of the newest round (one shared, or one per branch), and whether it was asked blind.
    round_questions: tuple[str, ...] = ()
    blind: bool = False
    owner: str = ""  # whose comparison: a blind round's order is theirs

    @property
    def shown_lanes(self) -> list[Lane]:
        """The lanes in the order the page shows them: a blind round's fixed shuffle, else by model."""
        if not self.blind:
            return list(self.lanes)
        return [self.lanes[i] for i in blind_order(self.owner, self.round_questions, self.models)]

    @property
    def models(self) -> list[str]:
        return [lane.model_key for lane in self.lanes]

    @property
    def newest_replies(self) -> list[Turn]:
        """The replies of the newest round, one per lane (what a vote judges)."""
        return [r for lane in self.lanes if (r := lane.newest_reply) is not None]


# --- a comparison while it streams -------------------------------------------------------------


@dataclass
class LiveLane:
    """One model's reply as it streams, read by the page from another thread."""

    model: ModelInfo
    reply: Reply
    label: str
    stop: threading.Event = field(default_factory=threading.Event)
    parts: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    ended: float | None = None
    reported_tokens: int | None = None  # the provider's count, once its usage arrives
    error: ChatError | None = None
    status: ReplyStatus = "streaming"

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def done(self) -> bool:
        return self.ended is not None

    @property
    def message_id(self) -> str | None:
        return self.reply.message_id

    @property
    def tokens(self) -> int:
        """Completion tokens: the provider's count when known, the app's estimate until then."""
        if self.reported_tokens is not None:
            return self.reported_tokens
        return context_budget.estimate_tokens(self.text + "".join(self.reasoning)) if self.parts else 0

    @property
    def time_to_first_token(self) -> float | None:
        return self.first_token - self.started if self.first_token is not None else None

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token is None:
            return None
        window = (self.ended or time.monotonic()) - self.first_token
        return self.tokens / window if window > 0.05 and self.tokens else None


class Comparison:
    """The replies of one round, streaming at once; ``lanes`` in the order shown (shuffled in
    blind mode)."""

    def __init__(self, conversation_id: str, question_id: str, lanes: list[LiveLane], blind: bool) -> None:
        self.conversation_id = conversation_id
        self.question_id = question_id  # the comparison's first question (shown while comparing)
        self.lanes = lanes
        self.blind = blind
        self._threads: list[threading.Thread] = []

    def start(self) -> Comparison:
        for i, lane in enumerate(self.lanes):
            thread = threading.Thread(target=self._run, args=(lane,), name=f"compare-{i}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def _run(self, lane: LiveLane) -> None:
        try:
            with lane.reply:  # leaving it (a Stop) ends the reply, which saves it as it stands
                for event in lane.reply:
                    if isinstance(event, (TextDelta, ReasoningDelta)):
                        if lane.first_token is None:
                            lane.first_token = time.monotonic()
                        (lane.parts if isinstance(event, TextDelta) else lane.reasoning).append(event.text)
                    elif isinstance(event, Usage):
                        lane.reported_tokens = event.completion_tokens
                    if lane.stop.is_set():
                        break
        except ChatError as error:
            lane.error = error
        except Exception:  # a bug must not leave the column streaming forever
            lane.error = ChatError("error.unknown")
        finally:
            lane.error = lane.error or lane.reply.error
            lane.status = "error" if lane.error and lane.reply.status == "streaming" else lane.reply.status
            lane.ended = time.monotonic()

    @property
    def running(self) -> bool:
        return any(not lane.done for lane in self.lanes)

    def stop(self, index: int) -> None:
        """Stop one model's reply (at its next event); the others go on."""
        self.lanes[index].stop.set()

    def stop_all(self) -> None:
        for lane in self.lanes:
            lane.stop.set()

    def join(self, timeout: float) -> bool:
        """Wait for every lane to end; False if one is still running after ``timeout``."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not self.running


# --- the service -----------------------------------------------------------------------------


class Compare:
    def __init__(self, turns: Turns, sessions: sessionmaker[Session], owner: str = "") -> None:
        self._turns = turns
        self._sessions = sessions
        self.owner = owner

    @database_errors
    def comparing(self, conversation_id: str) -> Comparing | None:
        """The conversation's comparison, when it is comparing: its shown message is a question
        with answers from two or more models. One lane per model (its newest answer to the
        question), in the order of the models' keys (the answers start in any order)."""
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None or conv.current_message_id is None:
                return None
            # Asked on every run of the chat: a shown reply (the usual case) costs one row.
            question = s.get(Message, conv.current_message_id)
            if question is None or question.role != "user" or question.conversation_id != conv.id:
                return None
            answers: dict[str, str] = {}
            for mid, provider, model in s.execute(
                select(Message.id, Message.provider, Message.model)
                .where(Message.parent_id == question.id, Message.role == "assistant")
                .order_by(Message.created_at, Message.id)
            ):
                key = f"{provider}:{model}"
                answers.pop(key, None)  # a newer answer of the same model replaces its lane
                answers[key] = mid
            if len(answers) < MIN_MODELS:
                return None
            rows = repo.message_skeleton(s, conv.id)
            above = len(branch_path(rows, question.id))
            chains = {
                key: [m.id for m in branch_path(rows, newest_leaf(rows, first))[above:]]
                for key, first in answers.items()
            }
            question_id = question.id
        lanes = []
        service = ConversationService(self._sessions, self.owner)
        for key, ids in sorted(chains.items()):
            lanes.append(Lane(key, service.turns(conversation_id, ids)))
        asked = tuple(_round_question(lane, question_id) for lane in lanes)
        return Comparing(question_id, lanes, asked, self._asked_blind(asked), self.owner)

    @database_errors
    def _asked_blind(self, question_ids: Sequence[str]) -> bool:
        with self._sessions() as s:
            params = s.scalars(select(Message.params).where(Message.id.in_(question_ids)))
            return any(bool((p or {}).get(BLIND)) for p in params)

    @database_errors
    def _mark_blind(self, question_ids: Iterable[str]) -> None:
        """Keep with the round's questions that it is blind: a reload still hides the models."""
        with self._sessions.begin() as s:
            for question in s.scalars(select(Message).where(Message.id.in_(set(question_ids)))):
                question.params = {**(question.params or {}), BLIND: True}

    def send(
        self,
        conversation_id: str | None,
        text: str,
        setups: Sequence[TurnSetup],
        *,
        blind: bool = False,
        new_chat: NewChatOptions | None = None,
    ) -> Comparison:
        """Ask every model of ``setups`` (2 to 4); their replies start streaming at once.

        A conversation that compares already continues: each model answers on its own branch
        (``setups`` name the models of its lanes). Otherwise the message is one new question,
        answered by every model. The question and every reply are saved before any stream
        starts, so a reload finds them all.
        """
        check_models(setups)
        text = check_text(text)
        comparing = self.comparing(conversation_id) if conversation_id else None
        pending = self._prepare(conversation_id, text, setups, comparing, new_chat)
        order = list(range(len(setups)))
        if blind:
            asked = [p.user_message_id for p in pending]
            self._mark_blind(asked)
            order = blind_order(self.owner, asked, [s.model.key for s in setups])
        lanes = [
            LiveLane(setups[i].model, self._turns.answer(pending[i], replace(setups[i], fallbacks=())), LABELS[place])
            for place, i in enumerate(order)
        ]
        question = comparing.question_id if comparing else pending[0].user_message_id
        return Comparison(pending[0].conversation_id, question, lanes, blind).start()

    def _prepare(
        self,
        conversation_id: str | None,
        text: str,
        setups: Sequence[TurnSetup],
        comparing: Comparing | None,
        new_chat: NewChatOptions | None,
    ) -> list[PendingTurn]:
        """Each model's turn, saved: its question (one shared, or one per branch) and its request."""
        first = setups[0]
        pending: list[PendingTurn] = []
        if comparing is None:
            tpm = first.tokens_per_minute()
            pending.append(self._turns.start_turn(conversation_id, text, first.model, first.settings, tpm, new_chat))
            cid = pending[0].conversation_id
            for setup in setups[1:]:  # the shared question is shown now: each answers it
                pending.append(self._turns.regenerate_turn(cid, setup.model, setup.settings, setup.tokens_per_minute()))
            question = pending[0].user_message_id
        else:
            assert conversation_id is not None  # a comparison has a conversation
            cid, question = conversation_id, comparing.question_id
            leaves = {lane.model_key: lane.leaf for lane in comparing.lanes}
            for setup in setups:
                leaf = leaves.get(setup.model.key)
                if leaf is None:
                    raise InvalidInput("compare.not_compared", model=setup.model.id)
                self._show(cid, leaf, None)  # the new question goes below this model's branch
                tpm = setup.tokens_per_minute()
                pending.append(self._turns.start_turn(cid, text, setup.model, setup.settings, tpm))
        for p in pending:
            p.shown = False
        self._show(cid, question, first.model)  # the conversation keeps the first model as its own
        return pending

    @database_errors
    def _show(self, conversation_id: str, message_id: str, model: ModelInfo | None) -> None:
        fields: dict[str, str] = {"current_message_id": message_id}
        if model is not None:
            fields |= {"provider": model.provider, "model": model.id}
        with self._sessions.begin() as s:
            repo.update_conversation(s, self.owner, conversation_id, **fields)

    @database_errors
    def choose(self, conversation_id: str, lane: Lane) -> None:
        """Continue with this lane as the normal chat: its branch shown, its model the
        conversation's (the other answers stay, as alternatives)."""
        provider, _, model = lane.model_key.partition(":")
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None or not any(m.id == lane.leaf for m in repo.message_skeleton(s, conv.id)):
                raise InvalidInput("error.no_conversation")
            conv.current_message_id = lane.leaf
            conv.provider, conv.model = provider, model


def _round_question(lane: Lane, first_question: str) -> str:
    """The question the lane's newest reply answers: the turn above it on its branch (the
    comparison's first question for a first reply)."""
    replies = [i for i, turn in enumerate(lane.turns) if turn.role == "assistant"]
    if not replies or replies[-1] == 0:
        return first_question
    return lane.turns[replies[-1] - 1].id
