"""Living with many conversations: list (paged, grouped by date), organise, trash with undo,
search, export, import, automatic titles. The pages' one entry point for all of it.

Like the other services (turns.py, conversation.py, preferences.py) it never imports Streamlit
and opens a short-lived session per call; every query is scoped to ``owner``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal

from sqlalchemy.orm import Session, sessionmaker

from chatbot import config
from chatbot import search as search_module
from chatbot.branches import branch_path, newest_leaf
from chatbot.database import database_errors
from chatbot.errors import InvalidInput
from chatbot.providers.base import ChatMessage, ChatRequest, GenerationParams, ModelInfo, Provider, TextDelta
from chatbot.records import ConversationRecord, ConversationSummary, as_utc, conversation_record, conversation_summary
from chatbot.store import attachment_repo, repo, vote_repo
from chatbot.store.models import Conversation, utcnow
from chatbot.store.repo import ConversationFilter, PageCursor

# The list's query types, for pages (which never import the store).
__all__ = ["ConversationFilter", "ConversationSummary", "HistoryService", "PageCursor"]

if TYPE_CHECKING:  # exporters and importers are imported when used: the chat page never needs them
    from chatbot.exporting import ExportFile
    from chatbot.importing import ImportBatch, ImportReport, Limits, Upload

PAGE_SIZE = 30
UNDO_WINDOW = timedelta(minutes=10)  # a deleted conversation can be restored this long
MAX_TITLE = 300
MAX_TAG = 50
MAX_TAGS = 20
EXPORT_BATCH = 100  # conversations read per query batch when exporting everything

# The cheapest Groq chat model names a conversation; the conversation's own model otherwise.
TITLE_MODEL = "llama-3.1-8b-instant"
TITLE_TIMEOUT = 8.0
TITLE_PROMPT = (
    "You name conversations. Reply with a title of at most six words, in the language of the "
    "conversation, with no quotes and no final punctuation. Reply with the title only."
)

GroupKey = Literal["today", "yesterday", "previous_7_days", "previous_30_days", "month"]


@dataclass(frozen=True)
class Page:
    items: list[ConversationSummary]
    next_cursor: PageCursor | None  # None: this was the last page


@dataclass
class DateGroup:
    key: GroupKey
    items: list[ConversationSummary] = field(default_factory=list)
    year: int | None = None  # for "month"
    month: int | None = None


def date_group(updated_at: datetime, today: date, zone: tzinfo) -> tuple[GroupKey, int | None, int | None]:
    day = as_utc(updated_at).astimezone(zone).date()
    age = (today - day).days
    if age <= 0:
        return "today", None, None  # also a clock a little ahead
    if age == 1:
        return "yesterday", None, None
    if age <= 7:
        return "previous_7_days", None, None
    if age <= 30:
        return "previous_30_days", None, None
    return "month", day.year, day.month


def group_by_date(items: list[ConversationSummary], now: datetime, zone: tzinfo = UTC) -> list[DateGroup]:
    """Consecutive groups of a newest-first list, in the user's time zone."""
    today = as_utc(now).astimezone(zone).date()
    groups: list[DateGroup] = []
    for item in items:
        key, year, month = date_group(item.updated_at, today, zone)
        if not groups or (groups[-1].key, groups[-1].year, groups[-1].month) != (key, year, month):
            groups.append(DateGroup(key, [], year, month))
        groups[-1].items.append(item)
    return groups


def clean_title(text: str) -> str | None:
    """A model's answer as a title: first line, no quotes or Markdown, at most 80 characters."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    for prefix in ("title:", "标题：", "标题:"):
        if line.lower().strip().startswith(prefix):
            line = line.strip()[len(prefix) :]
    line = line.replace("**", "").replace("__", "").replace("`", "")
    line = line.strip().strip("#*_\"'“”‘’「」『』").strip().rstrip("。.!！")
    line = " ".join(line.split())
    if not line:
        return None
    return line if len(line) <= 80 else line[:79] + "…"


def normalise_tags(tags: list[str]) -> list[str]:
    out: dict[str, str] = {}
    for tag in tags:
        tag = " ".join(str(tag).split())
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise InvalidInput("history.tag_too_long", limit=MAX_TAG)
        out.setdefault(tag.casefold(), tag)  # "Work" and "work" are one tag
    if len(out) > MAX_TAGS:
        raise InvalidInput("history.too_many_tags", limit=MAX_TAGS)
    return list(out.values())


class HistoryService:
    def __init__(self, sessions: sessionmaker[Session], owner: str = "", limits: Limits | None = None) -> None:
        self._sessions = sessions
        self.owner = owner
        self._limits = limits

    @property
    def limits(self) -> Limits:
        if self._limits is None:
            from chatbot.importing import Limits

            self._limits = Limits()
        return self._limits

    # --- the list ---------------------------------------------------------------------------
    @database_errors
    def page(
        self,
        filters: ConversationFilter | None = None,
        after: PageCursor | None = None,
        limit: int = PAGE_SIZE,
        with_counts: bool = False,
    ) -> Page:
        """One page, newest first. One extra row is read to know whether another page exists."""
        filters = filters or ConversationFilter(pinned=False)
        with self._sessions() as s:
            rows = repo.list_conversation_page(s, self.owner, filters, limit + 1, after)
            more = len(rows) > limit
            rows = rows[:limit]
            ids = [c.id for c in rows]
            tags = repo.tags_of(s, ids)
            counts = repo.message_counts(s, ids) if with_counts else {}
            items = [
                conversation_summary(c, tags.get(c.id, []), counts.get(c.id, 0) if with_counts else None) for c in rows
            ]
        cursor = PageCursor(rows[-1].updated_at, rows[-1].id) if more and rows else None
        return Page(items, cursor)

    @database_errors
    def pinned(self, limit: int = 100) -> list[ConversationSummary]:
        return self.page(ConversationFilter(pinned=True), limit=limit).items

    @database_errors
    def pages(self, count: int, filters: ConversationFilter | None = None, limit: int = PAGE_SIZE) -> Page:
        """The first ``count`` pages joined (each one keyset query): what "Load more" shows."""
        items: list[ConversationSummary] = []
        cursor: PageCursor | None = None
        for _ in range(max(1, count)):
            page = self.page(filters, cursor, limit)
            items.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
        return Page(items, cursor)

    @database_errors
    def count(self, filters: ConversationFilter | None = None) -> int:
        with self._sessions() as s:
            return repo.count_conversations(s, self.owner, filters)

    @database_errors
    def summary(self, conversation_id: str) -> ConversationSummary | None:
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return None
            return conversation_summary(conv, repo.tags_of(s, [conv.id]).get(conv.id, []))

    @database_errors
    def summaries(self, conversation_ids: list[str]) -> dict[str, ConversationSummary]:
        with self._sessions() as s:
            rows = repo.get_conversations(s, self.owner, conversation_ids)
            tags = repo.tags_of(s, [c.id for c in rows])
            return {c.id: conversation_summary(c, tags.get(c.id, [])) for c in rows}

    @database_errors
    def message_counts(self, conversation_ids: list[str]) -> dict[str, int]:
        with self._sessions() as s:  # only this owner's: another's id counts nothing
            return repo.message_counts(s, repo.owned_ids(s, self.owner, conversation_ids))

    @database_errors
    def all_tags(self) -> list[str]:
        with self._sessions() as s:
            return repo.all_tags(s, self.owner)

    @database_errors
    def models_used(self) -> list[str]:
        with self._sessions() as s:
            return repo.models_used(s, self.owner)

    # --- organise ---------------------------------------------------------------------------
    @database_errors
    def rename(self, conversation_id: str, title: str) -> str:
        title = " ".join(title.split())
        if not title:
            raise InvalidInput("history.title_empty")
        if len(title) > MAX_TITLE:
            raise InvalidInput("history.title_too_long", limit=MAX_TITLE)
        with self._sessions.begin() as s:
            if not repo.set_title(s, self.owner, conversation_id, title, "user"):
                raise InvalidInput("error.no_conversation")
        return title

    @database_errors
    def set_pinned(self, conversation_ids: list[str], pinned: bool) -> int:
        with self._sessions.begin() as s:
            return repo.set_flag(s, self.owner, conversation_ids, pinned=pinned)

    @database_errors
    def set_archived(self, conversation_ids: list[str], archived: bool) -> int:
        with self._sessions.begin() as s:
            return repo.set_flag(s, self.owner, conversation_ids, archived=archived)

    @database_errors
    def set_tags(self, conversation_id: str, tags: list[str]) -> list[str]:
        tags = normalise_tags(tags)
        with self._sessions.begin() as s:
            if not repo.set_tags(s, self.owner, conversation_id, tags):
                raise InvalidInput("error.no_conversation")
        return tags

    # --- delete, undo -----------------------------------------------------------------------
    @database_errors
    def delete(self, conversation_ids: list[str]) -> int:
        """Move to the trash (hidden at once); ``undo_delete`` brings them back for a while."""
        with self._sessions.begin() as s:
            moved = repo.trash_conversations(s, self.owner, conversation_ids, utcnow())
        self.purge_trash()
        return moved

    @database_errors
    def undo_delete(self, conversation_ids: list[str]) -> int:
        with self._sessions.begin() as s:
            return repo.restore_conversations(s, self.owner, conversation_ids)

    @database_errors
    def purge_trash(self, older_than: timedelta = UNDO_WINDOW) -> int:
        """Delete for good what has been in the trash longer than the undo window."""
        before = utcnow() - older_than
        with self._sessions() as s:  # read first: most calls find nothing and need no write lock
            ids = repo.trashed_before(s, self.owner, before)
        if not ids:
            return 0
        with self._sessions.begin() as s:
            return repo.purge_conversations(s, self.owner, ids)

    # --- search -----------------------------------------------------------------------------
    @database_errors
    def search(
        self, text: str, filters: ConversationFilter | None = None, limit: int = search_module.DEFAULT_LIMIT
    ) -> list[search_module.ConversationHits]:
        with self._sessions() as s:
            hits = search_module.search(s, self.owner, text, filters, limit)
        groups = search_module.group_by_conversation(hits)
        for g in groups:
            g.updated_at = as_utc(g.updated_at)
        return groups

    @database_errors
    def open_at(self, conversation_id: str, message_id: str | None) -> bool:
        """Make the branch holding ``message_id`` the shown one (a search hit on another branch).

        Its newest leaf becomes current, so the conversation opens whole, not cut at the hit.
        """
        if not message_id:
            return True
        with self._sessions.begin() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None:
                return False
            skeleton = repo.message_skeleton(s, conv.id)
            if message_id not in {m.id for m in skeleton}:
                return False
            if message_id not in {m.id for m in branch_path(skeleton, conv.current_message_id)}:
                conv.current_message_id = newest_leaf(skeleton, message_id)
            return True

    # --- export -----------------------------------------------------------------------------
    @database_errors
    def records(self, conversation_ids: list[str]) -> list[ConversationRecord]:
        with self._sessions() as s:
            return self._records(s, repo.get_conversations(s, self.owner, conversation_ids))

    @staticmethod
    def _records(s: Session, conversations: list[Conversation]) -> list[ConversationRecord]:
        ids = [c.id for c in conversations]
        messages = repo.messages_by_conversation(s, ids)
        tags = repo.tags_of(s, ids)
        records = [conversation_record(c, messages[c.id], tags.get(c.id, [])) for c in conversations]
        attachment_repo.fill_records(s, records)  # exports carry the images too
        vote_repo.fill_records(s, records)  # and the votes on comparisons
        return records

    @database_errors
    def iter_records(self, filters: ConversationFilter | None = None) -> Iterator[ConversationRecord]:
        """Every conversation (archived too, unless filtered), a batch of queries at a time."""
        filters = filters or ConversationFilter(archived=None)
        cursor: PageCursor | None = None
        while True:
            with self._sessions() as s:
                rows = repo.list_conversation_page(s, self.owner, filters, EXPORT_BATCH, cursor)
                if not rows:
                    return
                batch = self._records(s, rows)
                cursor = PageCursor(rows[-1].updated_at, rows[-1].id)
            yield from batch
            if len(rows) < EXPORT_BATCH:
                return

    @database_errors
    def export(self, conversation_ids: list[str], fmt: str) -> ExportFile:
        records = self.records(conversation_ids)
        if not records:
            raise InvalidInput("error.no_conversation")
        from chatbot import exporting

        return exporting.export(records, fmt)

    @database_errors
    def export_everything(self) -> ExportFile:
        from chatbot import exporting

        return exporting.export_everything(self.iter_records())

    # --- import -----------------------------------------------------------------------------
    def _parsed(self, uploads: list[Upload]) -> ImportBatch:
        """Parsed once per upload (by content hash): the page reruns the preview on every click."""
        from chatbot import importing
        from chatbot.importing.cache import PARSED

        limits = self.limits
        return PARSED.get(self.owner, uploads, limits, lambda: importing.read(uploads, limits))

    def preview_import(self, uploads: list[Upload]) -> ImportReport:
        """What importing would do; raises ImportFailed for a file that would import nothing."""
        from chatbot import importing
        from chatbot.importing import writer as import_writer

        batch = self._parsed(uploads)
        with self._sessions() as s:
            planned = import_writer.plan(s, self.owner, batch.records)
        return importing.report(batch, planned)

    def import_uploads(self, uploads: list[Upload], progress: Callable[[int, int], None] | None = None) -> ImportReport:
        """All of it, or (on any error, or an exception raised from ``progress``) nothing; written
        in short transactions so other users' saves are not kept waiting (chatbot/importing/writer.py).
        ``progress(written, total)`` is called after each one, counting messages."""
        from chatbot import importing
        from chatbot.importing import writer as import_writer
        from chatbot.importing.cache import PARSED

        batch = self._parsed(uploads)
        with self._sessions() as s:
            planned = import_writer.plan(s, self.owner, batch.records)
        import_writer.write(self._sessions, self.owner, planned, progress)
        PARSED.forget(self.owner, uploads, self.limits)  # done: the uploader empties, free the memory
        return importing.report(batch, planned)

    # --- automatic titles -------------------------------------------------------------------
    @database_errors
    def auto_title(
        self,
        conversation_id: str,
        providers: Callable[[str], Provider],
        available: list[ModelInfo],
        timeout: float = TITLE_TIMEOUT,
    ) -> str | None:
        """After the first reply: ask a cheap Groq model for a title (the first words stay
        otherwise, e.g. with the offline model). Waits at most ``timeout``; a later answer
        still lands, unless the user has renamed the conversation meanwhile."""
        if not config.auto_titles():
            return None
        request = self._title_request(conversation_id, available)
        if request is None:
            return None
        result: list[str | None] = [None]

        def run() -> None:
            try:
                events = providers("groq").stream_chat(request)
                text = "".join(e.text for e in events if isinstance(e, TextDelta))
            except Exception:  # a title is a nicety: any failure keeps the first words
                return
            title = clean_title(text)
            if title:
                with self._sessions.begin() as s:
                    if repo.set_generated_title(s, self.owner, conversation_id, title):
                        result[0] = title

        worker = threading.Thread(target=run, name="auto-title", daemon=True)
        worker.start()
        worker.join(timeout)
        return result[0]

    def _title_request(self, conversation_id: str, available: list[ModelInfo]) -> ChatRequest | None:
        with self._sessions() as s:
            conv = repo.get_conversation(s, self.owner, conversation_id)
            if conv is None or conv.title_source != "words" or conv.provider != "groq":
                return None
            path = branch_path(repo.all_messages(s, conv.id), conv.current_message_id)
            user = next((m for m in path if m.role == "user" and m.content.strip()), None)
            reply = next(
                (m for m in path if m.role == "assistant" and m.status == "complete" and m.content.strip()), None
            )
            if user is None or reply is None:
                return None
            excerpt = f"User: {user.content[:1500]}\n\nAssistant: {reply.content[:1500]}"
            model_id = conv.model
        groq_models = {m.id: m for m in available if m.provider == "groq"}
        model = groq_models.get(TITLE_MODEL) or groq_models.get(model_id)
        if model is None:
            return None
        params = (
            GenerationParams(temperature=0.2, max_tokens=400, reasoning_effort="low")
            if model.reasoning
            else GenerationParams(temperature=0.2, max_tokens=24)
        )
        return ChatRequest(model.id, [ChatMessage("system", TITLE_PROMPT), ChatMessage("user", excerpt)], params)
