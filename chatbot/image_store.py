"""One person's stored images, for the pages: thumbnails of the messages shown, one image in
full when opened. Storing happens with the message (chatbot/turns.py); never imports Streamlit."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.store import attachment_repo
from chatbot.store.attachment_repo import StoredImage


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
    def full(self, attachment_id: str) -> StoredImage | None:
        """One of this person's images with its bytes; None for one that is gone or not theirs."""
        with self._sessions() as s:
            return attachment_repo.full_image(s, self._owner, attachment_id)
