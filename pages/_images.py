"""Images in the chat: taken from the chat input, shown as thumbnails under their message (full
size in a dialog), and the one-click move to a model that sees them.

Behaviour lives in chatbot/images.py (checks, downscaling, EXIF), chatbot/vision.py (which
models see images) and chatbot/turns.py (stored with the message, sent or noted); this draws.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from chatbot.conversation import Turn
from chatbot.errors import ChatError
from chatbot.i18n import t
from chatbot.image_store import StoredImage
from chatbot.images import PreparedImage, is_image_name, prepare_all
from chatbot.providers.base import ModelInfo
from chatbot.vision import sees_images, vision_model
from pages._common import Context
from pages._state import CONTEXT, CONVERSATION, MODEL_SWITCHES, NEW_CHAT_MODEL, OUTGOING, PROMPT, Key

# The images of the message being sent, with its text (set by the chat input's on_submit, taken
# by send): a message taken by something else (a comparison) leaves none for the next one.
PENDING = Key[tuple[str, list[PreparedImage]] | None]("chat_images_pending")
# Refused for a text-only model: (what was typed, the images, the model that sees them).
HELD = Key[tuple[str, list[PreparedImage], str] | None]("chat_images_held")
# "Send with the vision model" was pressed: sent on the next full run (the model box is there).
SWITCHED = Key[tuple[str, list[PreparedImage]] | None]("chat_images_switched")
# The message went with the vision model: the next full run empties the chat input.
EMPTY_INPUT = Key[bool]("chat_images_empty_input")
# message id -> its images (thumbnails): drawn again on every run, read once.
THUMBNAILS = Key[dict[str, list[StoredImage]]]("chat_thumbnails")
THUMBNAIL_WIDTH = 120


def split(files: Sequence[UploadedFile]) -> tuple[list[UploadedFile], list[UploadedFile]]:
    """(images, other files): by name, as the chat input gives them; the bytes decide later."""
    return [f for f in files if is_image_name(f.name)], [f for f in files if not is_image_name(f.name)]


def take(ctx: Context, model: ModelInfo, models: Sequence[ModelInfo], text: str, files: list[UploadedFile]) -> None:
    """The chat input's images, checked and prepared for sending with ``text``; a ChatError when
    they cannot go (bad file, too many, or a model without vision: then they are held for the
    one-click switch, and the text goes back into the input)."""
    HELD.pop(None)
    PENDING.pop(None)
    if not files:
        return
    prepared = prepare_all([(f.name, f.getvalue()) for f in files])
    ctx.turns.images.check_room(list(prepared))
    if sees_images(model):
        PENDING.set((text, prepared))
        return
    better = vision_model(models)
    if better is None:
        raise ChatError("images.no_vision_model", {"model": model.id})
    HELD.set((text, prepared, better.key))
    raise ChatError("images.text_only_model", {"model": model.id, "vision": better.id})


def dropped() -> None:
    """The message was refused for another reason: its images are not sent on their own."""
    PENDING.pop(None)


def pending(text: str) -> list[PreparedImage]:
    """The images to send with this run's message ``text`` (taken: sent once)."""
    held = PENDING.pop(None)
    return held[1] if held is not None and held[0] == text else []


def _switch() -> None:
    """The button's callback: the conversation (or the new chat) moves to the vision model; the
    message goes on the next full run, where the model box and the turn's model are drawn."""
    held = HELD.pop(None)
    if held is None:
        return
    text, images, key = held
    conversation_id = CONVERSATION.get(None)
    ctx: Context | None = CONTEXT.get(None)
    if conversation_id and ctx is not None:
        ctx.conversations.set_model(conversation_id, key)
    else:
        NEW_CHAT_MODEL.set(key)
    switches = MODEL_SWITCHES.setdefault({})
    switches[conversation_id] = switches.get(conversation_id, 0) + 1  # a fresh model box
    SWITCHED.set((text, images))


def offer_vision_model(refused: ChatError | None) -> None:
    """Under a refusal for a text-only model: one button sends the message with the model that
    sees images. After its click, the message is handed to the next full run."""
    switched = SWITCHED.pop(None)
    if switched is not None:
        text, images = switched
        OUTGOING.set(text)
        PENDING.set((text, images))
        EMPTY_INPUT.set(True)  # the text goes with the images, not back into the box
        st.rerun(scope="app")
    held = HELD.get(None)
    if refused is None or refused.key != "images.text_only_model" or held is None:
        return
    st.button(
        t("images.use_vision_model", model=refused.values.get("vision", "")),
        icon=":material/image_search:",
        key="images_use_vision",
        type="primary",
        on_click=_switch,
    )


def before_input() -> None:
    """Before the chat input is drawn: empty it once its text went with the vision model (set
    here, not in the button's callback: that run is a fragment's, cut short by the full rerun,
    and the box would keep its text)."""
    if EMPTY_INPUT.pop(False):
        PROMPT.set("")


def prefetch(ctx: Context, turns: Sequence[Turn]) -> None:
    """The thumbnails of the messages a full run draws, in one query."""
    ids = [turn.id for turn in turns if turn.role == "user"]
    THUMBNAILS.set({**{i: [] for i in ids}, **ctx.turns.images.thumbnails(ids)})


def _size(size: int) -> str:
    return f"{size / 1024:.0f} kB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def _full(ctx: Context, attachment_id: str) -> None:
    image = ctx.turns.images.full(attachment_id)
    if image is None or image.data is None:
        st.info(t("images.gone"), icon=":material/hide_image:")
        return
    st.image(image.data, width="stretch")
    st.caption(
        t("images.full_caption", name=image.name, width=image.width, height=image.height, size=_size(image.size))
    )


def show(ctx: Context, turn: Turn) -> None:
    """A user message's images as thumbnails; each opens full size."""
    if turn.role != "user":
        return
    cache = THUMBNAILS.setdefault({})
    if turn.id not in cache:  # a turn sent since the last full run
        cache.update({turn.id: [], **ctx.turns.images.thumbnails([turn.id])})
    images = cache[turn.id]
    if not images:
        return
    row = st.container(horizontal=True, gap="small", key=f"images_{turn.id}")
    for n, image in enumerate(images):
        cell = row.container(width="content", gap=None)
        cell.image(image.thumbnail, width=THUMBNAIL_WIDTH, caption=image.name or None)
        if cell.button(t("images.open"), icon=":material/open_in_full:", key=f"image_{turn.id}_{n}", type="tertiary"):
            st.dialog(t("images.full_title"), width="large")(_full)(ctx, image.id)


def show_sent(images: Sequence[PreparedImage]) -> None:
    """The images of the message just sent, before it is read back from the database."""
    if not images:
        return
    row = st.container(horizontal=True, gap="small")
    for image in images:
        row.image(image.thumbnail, width=THUMBNAIL_WIDTH, caption=image.name or None)
