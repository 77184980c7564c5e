"""SQLAlchemy 2.0 typed ORM: conversations, messages (a tree, for branches), settings.

The schema is owned by the Alembic migrations in ``migrations/``; these classes must match them
(a test compares the migrated schema with this metadata).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    # Random ids (not autoincrement) so exports re-import idempotently and several
    # app servers can create rows without coordinating.
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # Empty string = the single local user; the issuer+subject of a signed-in user otherwise.
    owner: Mapped[str] = mapped_column(String(255), default="", index=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    provider: Mapped[str] = mapped_column(String(40), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # The leaf of the branch the user is looking at; None = the newest message.
    current_message_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the title came from: "words" (first words of the first message, may be replaced
    # by a generated one), "model" (generated), "user" (typed: never overwritten).
    title_source: Mapped[str] = mapped_column(String(10), default="words", server_default="words")
    # Set = in the trash: hidden everywhere, restorable (undo) until purged.
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", passive_deletes=True
    )

    __table_args__ = (
        Index("ix_conversations_owner_updated", "owner", "updated_at", "id"),
        # The sidebar's keyset page: equality on owner/archived/pinned, then the sort key.
        Index("ix_conversations_list", "owner", "archived", "pinned", "updated_at", "id"),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    role: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text, default="")
    reasoning: Mapped[str | None] = mapped_column(Text, default=None)
    # complete | streaming | stopped | interrupted | error
    status: Mapped[str] = mapped_column(String(20), default="complete")
    provider: Mapped[str | None] = mapped_column(String(40), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    finish_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    error_code: Mapped[str | None] = mapped_column(String(80), default=None)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    time_to_first_token: Mapped[float | None] = mapped_column(Float, default=None)
    total_time: Mapped[float | None] = mapped_column(Float, default=None)
    queue_time: Mapped[float | None] = mapped_column(Float, default=None)
    tokens_per_second: Mapped[float | None] = mapped_column(Float, default=None)
    # Thumbs up (1) or down (-1) from the user; None for none.
    feedback: Mapped[int | None] = mapped_column(Integer, default=None)
    # The token counts are the app's estimate (no usage from the provider), not reported ones.
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Seconds from the first reasoning token to the first answer token.
    thinking_time: Mapped[float | None] = mapped_column(Float, default=None)
    # Prompt tokens served from Groq's prompt cache (priced at its discount; chatbot.pricing).
    cached_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")

    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)


class ConversationTag(Base):
    """A free-form label on a conversation (owner comes from the conversation)."""

    __tablename__ = "conversation_tags"

    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(50), primary_key=True)

    __table_args__ = (Index("ix_conversation_tags_tag", "tag"),)


class Setting(Base):
    __tablename__ = "settings"

    owner: Mapped[str] = mapped_column(String(255), primary_key=True, default="")
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)


class AudioUsage(Base):
    """Seconds of audio one person had transcribed (or translated): Groq counts and limits
    audio in seconds (ASH/ASD), not tokens, so the Usage page shows them apart."""

    __tablename__ = "audio_usage"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # As in conversations: "" = the single local user; the issuer+subject of a signed-in user.
    owner: Mapped[str] = mapped_column(String(255), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    # What was asked of Whisper: "transcribe", or "translate" (into English).
    task: Mapped[str] = mapped_column(String(20), default="transcribe")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_audio_usage_owner_created", "owner", "created_at"),)


class SpeechClip(Base):
    """A reply read aloud: the WAV Groq's text-to-speech made of it, kept so replaying costs no
    request. One per person, message, voice and text (``text_hash``: the model, voice and the
    text spoken); deleted with its message, and the oldest go first beyond a size per person."""

    __tablename__ = "speech_clips"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # As in conversations: "" = the single local user; the issuer+subject of a signed-in user.
    owner: Mapped[str] = mapped_column(String(255), default="")
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    voice: Mapped[str] = mapped_column(String(40))
    text_hash: Mapped[str] = mapped_column(String(64))
    audio: Mapped[bytes] = mapped_column()  # LargeBinary (bytea on PostgreSQL)
    size: Mapped[int] = mapped_column(Integer)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    # Characters sent to text-to-speech (priced per million); None for clips kept before 0013.
    characters: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_speech_clips_key", "owner", "message_id", "voice", "text_hash", unique=True),
        Index("ix_speech_clips_owner_used", "owner", "used_at"),
    )


class ModelLimit(Base):
    """The last ``x-ratelimit-*`` headers and the last 429 seen for one key and model
    (chatbot.model_limits): Groq limits each model separately, per organization."""

    __tablename__ = "model_limits"

    # SHA-256 of the base URL and the key: whose limits these are, never the key itself.
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    limit_requests: Mapped[int | None] = mapped_column(Integer, default=None)  # per day
    remaining_requests: Mapped[int | None] = mapped_column(Integer, default=None)
    requests_reset_at: Mapped[datetime | None] = mapped_column(default=None)
    limit_tokens: Mapped[int | None] = mapped_column(Integer, default=None)  # per minute
    remaining_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    tokens_reset_at: Mapped[datetime | None] = mapped_column(default=None)
    seen_at: Mapped[datetime | None] = mapped_column(default=None)
    # The last 429: which window ("RPD", "TPM", ...), when, and until when it said to wait.
    limited_window: Mapped[str | None] = mapped_column(String(10), default=None)
    limited_at: Mapped[datetime | None] = mapped_column(default=None)
    limited_until: Mapped[datetime | None] = mapped_column(default=None)


class CachedAnswer(Base):
    """One person's answer to an identical temperature-0 request (chatbot.answer_cache); never
    shared between people, gone once ``expires_at`` has passed."""

    __tablename__ = "answer_cache"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    owner: Mapped[str] = mapped_column(String(255), default="")
    request_hash: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        Index("ix_answer_cache_key", "owner", "request_hash", unique=True),
        Index("ix_answer_cache_owner_expires", "owner", "expires_at"),
    )


class BatchRun(Base):
    """One batch: prompts sent to one or more models with the same parameters (chatbot/batch.py).

    ``state`` is what the run was last asked to do ("running", "stopped", "finished"); whether a
    worker is really sending now is known only to the process running it, so a run left
    "running" by a crash reads as interrupted and resumes with its pending rows."""

    __tablename__ = "batch_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # As in conversations: "" = the single local user; the issuer+subject of a signed-in user.
    owner: Mapped[str] = mapped_column(String(255), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    models: Mapped[list[str]] = mapped_column(JSON, default=list)  # provider-qualified keys
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    concurrency: Mapped[int] = mapped_column(Integer, default=4)
    state: Mapped[str] = mapped_column(String(20), default="stopped")
    # Why the run stopped by itself (a daily limit reached): an error key and its values.
    error_code: Mapped[str | None] = mapped_column(String(80), default=None)
    error_values: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sent through Groq's Batch API (chatbot/groq_batch.py): its batch id and the status last
    # seen ("validating", "in_progress", ..., "completed"); None when sent request by request.
    groq_batch_id: Mapped[str | None] = mapped_column(String(64), default=None)
    groq_status: Mapped[str | None] = mapped_column(String(20), default=None)

    __table_args__ = (Index("ix_batch_runs_owner_created", "owner", "created_at"),)


class BatchRow(Base):
    """One prompt for one model of a batch: saved the moment its reply is complete or failed, so
    a resumed run sends only the rows still pending."""

    __tablename__ = "batch_rows"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    run_id: Mapped[str] = mapped_column(ForeignKey("batch_runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the prompt's place in the input, from 0
    item_id: Mapped[str] = mapped_column(String(200), default="")
    provider: Mapped[str] = mapped_column(String(40))
    model: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text)
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # chatbot.batch.RowStatus
    content: Mapped[str | None] = mapped_column(Text, default=None)
    finish_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    error_code: Mapped[str | None] = mapped_column(String(80), default=None)
    error_values: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, default=None)
    cached_tokens: Mapped[int | None] = mapped_column(Integer, default=None)  # of prompt_tokens
    seconds: Mapped[float | None] = mapped_column(Float, default=None)
    # When the reply (or error) arrived; while still pending, when its request was sent (if it was);
    # None for a row failed without a request (its model known to be gone).
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    __table_args__ = (
        Index("ix_batch_rows_run_status", "run_id", "status"),
        Index("ix_batch_rows_run_position", "run_id", "position", "model"),
    )


class Vote(Base):
    """A blind comparison's verdict (chatbot/votes.py): the replies to one question, each with
    the model that wrote it and its rank (1 best; equal ranks tie). The leaderboard fits its
    ratings from these; deleted with their conversation."""

    __tablename__ = "votes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # As in conversations: "" = the single local user; the issuer+subject of a signed-in user.
    owner: Mapped[str] = mapped_column(String(255), default="")
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"), index=True)
    # "a" | "b" | "tie" | "both_bad" (two replies) or "ranking" (three or four).
    verdict: Mapped[str] = mapped_column(String(20))
    # [{"message_id": ..., "model": "provider:model", "rank": 1}, ...] in the order shown.
    ranking: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_votes_owner_created", "owner", "created_at"),)


class Attachment(Base):
    """An image attached to a message, as stored and sent (re-encoded, without EXIF): one row
    per person and content (``sha256``), however many messages use it. Size-limited by
    chatbot/images.py; deleted when the last message using it goes (chatbot/store/attachment_repo.py)."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    # As in conversations: "" = the single local user; the issuer+subject of a signed-in user.
    owner: Mapped[str] = mapped_column(String(255), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    mime: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(255), default="")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column()  # LargeBinary (bytea on PostgreSQL)
    thumbnail: Mapped[bytes] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (Index("ix_attachments_owner_sha256", "owner", "sha256", unique=True),)


class MessageAttachment(Base):
    """Which message shows which attachment, in the order attached; goes with its message."""

    __tablename__ = "message_attachments"

    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    attachment_id: Mapped[str] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), index=True)
