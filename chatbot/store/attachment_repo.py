"""Attachments (images) in the database: stored once per person and content, linked to
messages in order, and deleted when no message uses them any more.

Plain functions on a Session, like chatbot/store/repo.py; never imports Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from chatbot.records import ConversationRecord, ImageRecord
from chatbot.store.models import Attachment, Message, MessageAttachment

CHUNK = 500  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits


@dataclass(frozen=True)
class StoredImage:
    """What a message shows of an attachment; ``data`` only when asked for."""

    id: str
    sha256: str
    mime: str
    name: str
    width: int
    height: int
    size: int
    thumbnail: bytes
    data: bytes | None = None


class ImageContent(Protocol):
    """An image to store: chatbot.images.PreparedImage, or one read back from an export."""

    @property
    def sha256(self) -> str: ...
    @property
    def mime(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...
    @property
    def data(self) -> bytes: ...
    @property
    def thumbnail(self) -> bytes: ...


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def store(session: Session, owner: str, image: ImageContent) -> str:
    """The id of the owner's attachment with this content, stored now if it is new."""
    found = session.scalar(select(Attachment.id).where(Attachment.owner == owner, Attachment.sha256 == image.sha256))
    if found is not None:
        return found
    row = Attachment(
        owner=owner,
        sha256=image.sha256,
        mime=image.mime,
        name=image.name[:255],
        width=image.width,
        height=image.height,
        size=len(image.data),
        data=image.data,
        thumbnail=image.thumbnail,
    )
    session.add(row)
    session.flush()
    return row.id


def link(session: Session, owner: str, message_id: str, images: list[ImageContent]) -> None:
    """Attach ``images`` to the message, in order (deduplicated against what the owner has)."""
    for position, image in enumerate(images):
        session.add(
            MessageAttachment(message_id=message_id, position=position, attachment_id=store(session, owner, image))
        )
    session.flush()


def copy_links(session: Session, pairs: list[tuple[str, str]]) -> None:
    """Each (from message, to message): the copy shows the same images (a fork)."""
    for chunk_start in range(0, len(pairs), CHUNK):
        chunk = pairs[chunk_start : chunk_start + CHUNK]
        targets = dict(chunk)
        rows = session.execute(
            select(MessageAttachment.message_id, MessageAttachment.position, MessageAttachment.attachment_id).where(
                MessageAttachment.message_id.in_(list(targets))
            )
        )
        for source, position, attachment_id in rows:
            session.add(MessageAttachment(message_id=targets[source], position=position, attachment_id=attachment_id))
    session.flush()


def images_of(session: Session, message_ids: list[str], with_data: bool = False) -> dict[str, list[StoredImage]]:
    """message id -> its images in order (thumbnails; the full bytes with ``with_data``)."""
    out: dict[str, list[StoredImage]] = {}
    columns = [
        MessageAttachment.message_id,
        Attachment.id,
        Attachment.sha256,
        Attachment.mime,
        Attachment.name,
        Attachment.width,
        Attachment.height,
        Attachment.size,
        Attachment.thumbnail,
    ]
    if with_data:
        columns.append(Attachment.data)
    for chunk in _chunks([m for m in dict.fromkeys(message_ids)]):
        rows = session.execute(
            select(*columns)
            .join(Attachment, Attachment.id == MessageAttachment.attachment_id)
            .where(MessageAttachment.message_id.in_(chunk))
            .order_by(MessageAttachment.message_id, MessageAttachment.position)
        )
        for row in rows:
            values: tuple[Any, ...] = tuple(row)
            out.setdefault(values[0], []).append(StoredImage(*values[1:]))
    return out


def with_images(session: Session, message_ids: list[str]) -> set[str]:
    """Which of these messages have images (one cheap query, no bytes)."""
    found: set[str] = set()
    for chunk in _chunks(list(dict.fromkeys(message_ids))):
        found.update(
            session.scalars(select(MessageAttachment.message_id).where(MessageAttachment.message_id.in_(chunk)))
        )
    return found


def stored_bytes(session: Session, owner: str) -> int:
    return int(
        session.scalar(select(func.coalesce(func.sum(Attachment.size), 0)).where(Attachment.owner == owner)) or 0
    )


def new_bytes(session: Session, owner: str, images: list[ImageContent]) -> int:
    """What storing ``images`` would add: the ones the owner does not have yet, each once."""
    wanted = {i.sha256: len(i.data) for i in images}
    have = set(
        session.scalars(select(Attachment.sha256).where(Attachment.owner == owner, Attachment.sha256.in_(list(wanted))))
    )
    return sum(size for sha, size in wanted.items() if sha not in have)


def full_image(session: Session, owner: str, attachment_id: str) -> StoredImage | None:
    row = session.get(Attachment, attachment_id)
    if row is None or row.owner != owner:
        return None
    return StoredImage(row.id, row.sha256, row.mime, row.name, row.width, row.height, row.size, row.thumbnail, row.data)


def used_by_conversations(session: Session, conversation_ids: list[str]) -> set[str]:
    """The attachments the messages of these conversations use (before deleting them)."""
    found: set[str] = set()
    for chunk in _chunks(conversation_ids):
        found.update(
            session.scalars(
                select(MessageAttachment.attachment_id)
                .join(Message, Message.id == MessageAttachment.message_id)
                .where(Message.conversation_id.in_(chunk))
            )
        )
    return found


def delete_unused(session: Session, attachment_ids: Iterable[str]) -> int:
    """Delete those of these attachments no message uses any more; how many went."""
    deleted = 0
    for chunk in _chunks(list(attachment_ids)):
        used = exists().where(MessageAttachment.attachment_id == Attachment.id)
        result = session.execute(delete(Attachment).where(Attachment.id.in_(chunk), ~used))
        deleted += int(getattr(result, "rowcount", 0) or 0)
    return deleted


def fill_records(session: Session, records: list[ConversationRecord]) -> None:
    """Each user message of ``records`` gets its images with their bytes (for exports)."""
    ids = [m.id for r in records for m in r.messages if m.role == "user"]
    found = images_of(session, ids, with_data=True)
    for record in records:
        for m in record.messages:
            m.images = [
                ImageRecord(i.mime, i.name, i.width, i.height, i.data or b"", i.thumbnail) for i in found.get(m.id, [])
            ]
