"""What a user has set and what they have used: their settings, their presets (the built-in ones
beside their own), and the tokens their replies used per day.

Never imports Streamlit; a short-lived session per call; every query scoped to ``owner``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from chatbot.database import database_errors
from chatbot.errors import InvalidInput
from chatbot.presets import BUILTIN_PREFIX, Preset, builtin_presets, same_name
from chatbot.presets import validate as validate_preset
from chatbot.settings import AppSettings
from chatbot.store import repo
from chatbot.store.models import utcnow

PRESETS_KEY = "presets"  # the user's own presets: one settings row, a JSON list


@dataclass(frozen=True)
class UsageRow:
    day: str
    model: str
    prompt_tokens: int  # as the provider reported them
    completion_tokens: int
    # Estimated by the app: replies stopped or cut before the provider sent its counts.
    estimated_prompt_tokens: int = 0
    estimated_completion_tokens: int = 0

    @property
    def reported(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def estimated(self) -> int:
        return self.estimated_prompt_tokens + self.estimated_completion_tokens


class Preferences:
    def __init__(self, sessions: sessionmaker[Session], owner: str = "") -> None:
        self._sessions = sessions
        self.owner = owner

    # --- settings -------------------------------------------------------------------------
    @database_errors
    def load_settings(self) -> AppSettings:
        with self._sessions() as s:
            return AppSettings.from_stored(repo.get_settings(s, self.owner))

    @database_errors
    def save_settings(self, settings: AppSettings) -> None:
        with self._sessions.begin() as s:
            repo.put_settings(s, self.owner, settings.to_stored())

    # --- presets ----------------------------------------------------------------------------
    @database_errors
    def presets(self) -> list[Preset]:
        with self._sessions() as s:
            stored = repo.get_settings(s, self.owner).get(PRESETS_KEY) or []
        return builtin_presets() + [Preset.from_stored(p) for p in stored if isinstance(p, dict)]

    @database_errors
    def save_preset(self, preset: Preset) -> Preset:
        """Add one of the user's own presets, or change one in place (same id, same place in
        the list). Names are unique among the user's presets: a list of two "Reviewer"s cannot
        be told apart in the chat page's picker."""
        preset = validate_preset(preset)
        if preset.builtin or preset.id.startswith(BUILTIN_PREFIX):
            raise InvalidInput("presets.builtin_readonly")
        with self._sessions.begin() as s:
            stored = [p for p in (repo.get_settings(s, self.owner).get(PRESETS_KEY) or []) if isinstance(p, dict)]
            if any(p.get("id") != preset.id and same_name(str(p.get("name", "")), preset.name) for p in stored):
                raise InvalidInput("presets.duplicate_name", name=preset.name)
            place = next((i for i, p in enumerate(stored) if p.get("id") == preset.id), len(stored))
            # A new list, not the loaded one changed in place: the JSON column is saved on assignment.
            updated = [*stored[:place], preset.to_stored(), *stored[place + 1 :]]
            repo.put_settings(s, self.owner, {PRESETS_KEY: updated})
        return preset

    @database_errors
    def delete_preset(self, preset_id: str) -> None:
        with self._sessions.begin() as s:
            stored = repo.get_settings(s, self.owner).get(PRESETS_KEY) or []
            repo.put_settings(s, self.owner, {PRESETS_KEY: [p for p in stored if p.get("id") != preset_id]})

    # --- usage ------------------------------------------------------------------------------
    @database_errors
    def usage(self, days: int = 30) -> list[UsageRow]:
        """Tokens of the user's replies per day and model, over the last ``days`` days."""
        with self._sessions() as s:
            rows = repo.usage_by_day_and_model(s, self.owner, utcnow() - timedelta(days=days))
        return [UsageRow(*row) for row in rows]
