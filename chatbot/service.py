"""One chat turn end to end: validate, save the user's text, stream the reply, persist it.

Pages call this; it never imports Streamlit. The database is the truth: everything a page
shows is read back from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from chatbot.conversation import ConversationService, Turn, TurnWindow
from chatbot.history import ConversationFilter, HistoryService
from chatbot.limits import MAX_MESSAGE_CHARS as MAX_MESSAGE_CHARS  # its old home, for older imports
from chatbot.preferences import Preferences
from chatbot.presets import Preset
from chatbot.providers.base import ModelInfo, StreamEvent
from chatbot.records import ConversationSummary

# Turns moved to chatbot/turns.py (the reply object to chatbot/reply.py); these names stay
# importable from here for the code that still uses them.
from chatbot.reply import NewChatOptions as NewChatOptions
from chatbot.reply import PendingTurn as PendingTurn
from chatbot.reply import ReplyState as ReplyState
from chatbot.settings import AppSettings
from chatbot.turns import ProviderResolver, Turns
from chatbot.turns import conversation_params as conversation_params
from chatbot.turns import make_title as make_title
from chatbot.turns import storable as storable


class ChatService:
    def __init__(self, sessions: sessionmaker[Session], providers: ProviderResolver, owner: str = "") -> None:
        self._sessions = sessions
        self._providers = providers
        self.owner = owner

    # --- old names, kept while pages/chat.py and tests still call them ------------------------
    # Settings, presets and usage: chatbot/preferences.py; reading and steering one conversation:
    # chatbot/conversation.py; a conversation's summary: HistoryService.summary.
    @property
    def conversations(self) -> ConversationService:
        return ConversationService(self._sessions, self.owner)

    @property
    def preferences(self) -> Preferences:
        return Preferences(self._sessions, self.owner)

    def load_settings(self) -> AppSettings:
        return self.preferences.load_settings()

    def save_settings(self, settings: AppSettings) -> None:
        self.preferences.save_settings(settings)

    def presets(self) -> list[Preset]:
        return self.preferences.presets()

    def save_preset(self, preset: Preset) -> Preset:
        return self.preferences.save_preset(preset)

    def conversation(self, conversation_id: str) -> ConversationSummary | None:
        return HistoryService(self._sessions, self.owner).summary(conversation_id)

    def recent_conversations(self, limit: int = 30) -> list[ConversationSummary]:
        return HistoryService(self._sessions, self.owner).page(ConversationFilter(pinned=None), limit=limit).items

    def messages(self, conversation_id: str) -> list[Turn]:
        return self.conversations.recent_messages(conversation_id).turns

    def recent_messages(
        self, conversation_id: str, limit: int, include: str | None = None, max_chars: int | None = None
    ) -> TurnWindow:
        return self.conversations.recent_messages(conversation_id, limit, include, max_chars)

    def turns(self, conversation_id: str, message_ids: list[str]) -> list[Turn]:
        return self.conversations.turns(conversation_id, message_ids)

    def set_model(self, conversation_id: str, model_key: str) -> None:
        self.conversations.set_model(conversation_id, model_key)

    def update_options(self, conversation_id: str, system_prompt: str | None, params: dict[str, Any]) -> None:
        self.conversations.update_options(conversation_id, system_prompt, params)

    def show_alternative(self, conversation_id: str, message_id: str) -> None:
        self.conversations.show_alternative(conversation_id, message_id)

    def fork(self, conversation_id: str, message_id: str) -> str:
        return self.conversations.fork(conversation_id, message_id)

    # --- one turn: chatbot/turns.py ---------------------------------------------------------
    @property
    def chat(self) -> Turns:
        return Turns(self._sessions, self._providers, self.owner)

    def start_turn(
        self,
        conversation_id: str | None,
        text: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
        new_chat: NewChatOptions | None = None,
    ) -> PendingTurn:
        return self.chat.start_turn(conversation_id, text, model, settings, tokens_per_minute, new_chat)

    def edit_turn(
        self,
        conversation_id: str,
        message_id: str,
        text: str,
        model: ModelInfo,
        settings: AppSettings,
        tokens_per_minute: int | None = None,
    ) -> PendingTurn:
        return self.chat.edit_turn(conversation_id, message_id, text, model, settings, tokens_per_minute)

    def regenerate_turn(
        self, conversation_id: str, model: ModelInfo, settings: AppSettings, tokens_per_minute: int | None = None
    ) -> PendingTurn:
        return self.chat.regenerate_turn(conversation_id, model, settings, tokens_per_minute)

    def continue_turn(
        self, conversation_id: str, model: ModelInfo, settings: AppSettings, tokens_per_minute: int | None = None
    ) -> PendingTurn:
        return self.chat.continue_turn(conversation_id, model, settings, tokens_per_minute)

    def stream_reply(self, pending: PendingTurn, state: ReplyState | None = None) -> Iterator[StreamEvent]:
        return self.chat.stream_reply(pending, state)
