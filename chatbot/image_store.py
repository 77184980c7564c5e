"""One person's stored images, for the pages: thumbnails of the messages shown, one image in
full when opened. Storing happens with the message (chatbot/turns.py); never imports Streamlit."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.errors import InvalidInput
from chatbot.images import MAX_STORED_PER_PERSON, MAX_STORED_PER_PERSON_WORDS
from chatbot.store import attachment_repo
from chatbot.store.attachment_repo import ImageContent, StoredImage

__all__ = ["ImageStore", "StoredImage"]  # the pages' type for an image, not the store's module


class ImageStore:
    def __init__(self, sessions: sessionmaker[Session], owner: str) -> None:
        self._sessions = sessions
        self._owner = owner

    @database_errors
    def thumbnails(self, message_ids: list[str]) -> dict[str, list[StoredImage]]:
        """message id -> its images (thumbnails only), for the messages that have any."""
        if not message_ids:
            return {}
        with self._sessions() as s:
            return attachment_repo.images_of(s, message_ids)

    @database_errors
    def check_room(self, images: list[ImageContent], limit: int = MAX_STORED_PER_PERSON) -> None:
        """``InvalidInput`` when storing ``images`` would take this person over their space for
        images (before the message is sent, so its text can go back into the input)."""
        with self._sessions() as s:
            adding = attachment_repo.new_bytes(s, self._owner, images)
            if adding and attachment_repo.stored_bytes(s, self._owner) + adding > limit:
                words = MAX_STORED_PER_PERSON_WORDS if limit == MAX_STORED_PER_PERSON else f"{limit:,} bytes"
                raise InvalidInput("images.storage_full", limit=words)

    @database_errors
    def full(self, attachment_id: str) -> StoredImage | None:
        """One of this person's images with its bytes; None for one that is gone or not theirs."""
        with self._sessions() as s:
            return attachment_repo.full_image(s, self._owner, attachment_id)
