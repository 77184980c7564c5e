"""Replies read aloud: a reply made speakable and cut into pieces Groq's Orpheus takes, spoken by
the real groq SDK against the stand-in's /audio/speech, joined into one WAV and kept per person,
message, voice and text so a replay costs no request."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator

import groq
import pytest
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, sessionmaker

from chatbot import speech
from chatbot.errors import ChatError, InvalidInput, SpeechNeedsKey
from chatbot.i18n import set_language
from chatbot.providers import Providers
from chatbot.store.models import Conversation, Message, SpeechClip
from tests.stand_in_groq import StandInGroq, speech_frames, speech_wav
from tests.test_audio import said

SPEECH_PATH = "/openai/v1/audio/speech"


@pytest.fixture(autouse=True)
def _english_after() -> Iterator[None]:
    yield
    set_language("en")


def frames(wav: bytes) -> tuple[int, int, int, int]:
    """(channels, sample width, rate, frames) of a WAV, read by the stdlib."""
    with wave.open(io.BytesIO(wav)) as clip:
        return clip.getnchannels(), clip.getsampwidth(), clip.getframerate(), clip.getnframes()


def reply(sessions: sessionmaker[Session], owner: str, content: str) -> str:
    """A conversation of ``owner``'s with one reply; the reply's id."""
    with sessions.begin() as s:
        conversation = Conversation(owner=owner, title="t")
        s.add(conversation)
        s.flush()
        message = Message(conversation_id=conversation.id, role="assistant", content=content)
        s.add(message)
        s.flush()
        return message.id


LONG_REPLY = (
    "Paris is the capital of France. It sits on the Seine, in the north of the country. "
    "The city has about two million people, and more than twelve million live in its region, "
    "which makes it one of the largest in Europe. Its museums, the Louvre and the Musée d'Orsay "
    "among them, draw visitors from all over the world every single year. Would you like to know more?"
)


# --------------------------------------------------------------------------- pieces


def test_pieces_are_at_most_200_characters_on_sentence_boundaries() -> None:
    parts = speech.pieces(LONG_REPLY)
    assert len(parts) > 1
    assert all(len(p) <= speech.MAX_PIECE_CHARS for p in parts)
    assert all(p.endswith((".", "?", "!")) for p in parts)  # each ends where a sentence does
    assert " ".join(parts) == LONG_REPLY  # nothing lost, nothing added


def test_a_sentence_over_200_characters_is_cut_after_commas_then_between_words() -> None:
    sentence = ", ".join(["a clause that goes on for quite a few words"] * 12) + " and then ends."
    parts = speech.pieces(sentence)
    assert all(len(p) <= 200 for p in parts) and len(parts) >= 3
    assert " ".join(parts) == sentence
    assert all(p.endswith(",") for p in parts[:-1])
    words = " ".join(["supercalifragilistic"] * 30) + "."  # no commas: between words
    parts = speech.pieces(words)
    assert all(len(p) <= 200 for p in parts)
    assert {w for p in parts for w in p.split()} == {"supercalifragilistic", "supercalifragilistic."}


def test_markdown_is_made_speakable_and_code_is_skipped() -> None:
    markdown = (
        "# Steps\n\nRun **this** with `pip`, see [the docs](https://example.com/docs).\n\n"
        "```python\nprint('never read')\n```\n\n- first item\n- second item\n\n> a _quoted_ line\n\n"
        "| name | size |\n|---|---|\n| a | 1 |\n"
    )
    (text,) = speech.pieces(markdown)
    assert text == ("Steps. Run this with pip, see the docs. first item. second item. a quoted line. name, size. a, 1.")
    with pytest.raises(InvalidInput) as refused:
        speech.pieces("```\nx = 1\n```")
    assert refused.value.key == "speech.nothing"


def test_a_reply_mostly_not_in_latin_script_is_refused_in_both_languages() -> None:
    with pytest.raises(InvalidInput) as refused:
        speech.pieces("巴黎是法国的首都，位于塞纳河畔。It is called Paris.")
    assert refused.value.key == "speech.not_english"
    assert "English" in said(refused.value, "en")
    assert "英" in said(refused.value, "zh-CN")
    assert speech.pieces("The word for Paris is 巴黎.") == ["The word for Paris is 巴黎."]


def test_only_the_first_4000_characters_are_read_and_that_is_said() -> None:
    script = speech.script("This sentence has exactly forty chars!! " * 200)
    assert script.cut
    assert script.pieces[-1] == speech.CUT_NOTICE
    assert sum(len(p) for p in script.pieces[:-1]) <= speech.MAX_READ_CHARS
    assert all(len(p) <= 200 for p in script.pieces)
    assert not speech.script(LONG_REPLY).cut


# --------------------------------------------------------------------------- the stand-in


def test_the_stand_in_speaks_a_wav_that_grows_with_the_text(groq_server: StandInGroq) -> None:
    client = groq.Groq(api_key=groq_server.api_key, base_url=groq_server.base_url)
    short = client.audio.speech.create(model=speech.MODEL, voice="troy", input="Hi.", response_format="wav").read()
    longer = client.audio.speech.create(model=speech.MODEL, voice="troy", input="Hello there, friend.").read()
    assert short[:4] == b"RIFF" and short[8:12] == b"WAVE"
    assert frames(short) == (1, 2, 48_000, speech_frames("Hi."))
    assert frames(longer)[3] == speech_frames("Hello there, friend.") > frames(short)[3]
    assert short == speech_wav("Hi.")  # deterministic
    assert [r["status"] for r in groq_server.speech_requests] == [200, 200]
    assert groq_server.speech_requests[0] == {
        "model": speech.MODEL,
        "voice": "troy",
        "input": "Hi.",
        "response_format": "wav",
        "sample_rate": None,
        "speed": None,
        "status": 200,
    }


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"response_format": "mp3"}, 400),
        ({"input": "x" * 201}, 400),
        ({"voice": "fahad"}, 400),  # an Arabic voice for the English model
        ({"model": "llama-3.3-70b-versatile"}, 400),
        ({"model": "no-such-model"}, 404),
    ],
)
def test_the_stand_in_refuses_what_groq_refuses(groq_server: StandInGroq, change: dict[str, str], status: int) -> None:
    client = groq.Groq(api_key=groq_server.api_key, base_url=groq_server.base_url, max_retries=0)
    request = {"model": speech.MODEL, "voice": "autumn", "input": "x" * 200, "response_format": "wav"} | change
    with pytest.raises(groq.APIStatusError) as refused:
        client.audio.speech.create(**request)  # type: ignore[arg-type]
    assert refused.value.status_code == status
    body = refused.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    assert groq_server.speech_requests[-1]["status"] == status


def test_the_stand_in_wants_the_key(groq_server: StandInGroq) -> None:
    client = groq.Groq(api_key="gsk_wrong", base_url=groq_server.base_url)
    with pytest.raises(groq.AuthenticationError):
        client.audio.speech.create(model=speech.MODEL, voice="autumn", input="Hi.")
    assert groq_server.speech_requests == []


# --------------------------------------------------------------------------- reading aloud


def test_a_reply_is_one_wav_of_its_pieces_and_a_replay_costs_nothing(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    message_id = reply(sessions, "alice", LONG_REPLY)
    alice = speech.Speech(sessions, "alice", Providers(groq_server.api_key, groq_server.base_url))
    wav = alice.read_aloud(message_id, LONG_REPLY)
    parts = speech.pieces(LONG_REPLY)
    assert [r["input"] for r in groq_server.speech_requests] == parts
    assert {(r["model"], r["voice"], r["response_format"]) for r in groq_server.speech_requests} == {
        (speech.MODEL, speech.DEFAULT_VOICE, "wav")
    }
    assert frames(wav) == (1, 2, 48_000, sum(speech_frames(p) for p in parts))

    assert alice.read_aloud(message_id, LONG_REPLY) == wav  # kept: no request
    assert len(groq_server.speech_requests) == len(parts)
    assert speech.Speech(sessions, "alice", Providers(None)).read_aloud(message_id, LONG_REPLY) == wav  # even keyless

    other = alice.read_aloud(message_id, LONG_REPLY, voice="troy")  # another voice: spoken again
    assert frames(other) == frames(wav)
    assert len(groq_server.speech_requests) == 2 * len(parts)
    with sessions() as s:
        assert sorted(s.scalars(select(SpeechClip.voice).where(SpeechClip.owner == "alice"))) == ["autumn", "troy"]


def test_the_kept_audio_is_each_persons_own(groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    providers = Providers(groq_server.api_key, groq_server.base_url)
    alices = reply(sessions, "alice", "Hello there.")
    speech.Speech(sessions, "alice", providers).read_aloud(alices, "Hello there.")
    assert len(groq_server.speech_requests) == 1
    bob = speech.Speech(sessions, "bob", providers)
    with pytest.raises(InvalidInput) as refused:  # not Bob's reply: nothing kept is his, nothing asked
        bob.read_aloud(alices, "Hello there.")
    assert refused.value.key == "speech.gone"
    assert len(groq_server.speech_requests) == 1
    bobs = reply(sessions, "bob", "Hello there.")
    bob.read_aloud(bobs, "Hello there.")
    assert len(groq_server.speech_requests) == 2
    assert speech.cache_bytes(sessions, "bob") > 0 and speech.cache_bytes(sessions, "carol") == 0


def test_a_changed_reply_replaces_its_audio_and_a_deleted_one_takes_it_along(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    alice = speech.Speech(sessions, "alice", Providers(groq_server.api_key, groq_server.base_url))
    message_id = reply(sessions, "alice", "First words.")
    alice.read_aloud(message_id, "First words.")
    alice.read_aloud(message_id, "First words, and then more.")  # continued: a new text
    assert len(groq_server.speech_requests) == 2
    with sessions() as s:
        assert s.scalar(select(SpeechClip.text_hash)) == speech.text_hash("First words, and then more.", "autumn")
        assert len(s.scalars(select(SpeechClip.id)).all()) == 1
    with sessions.begin() as s:
        s.delete(s.get(Message, message_id))
    assert speech.cache_bytes(sessions, "alice") == 0


def test_the_kept_audio_is_bounded_oldest_played_first(
    groq_server: StandInGroq, sessions: sessionmaker[Session]
) -> None:
    ids = [reply(sessions, "alice", f"Reply number {n}.") for n in range(3)]
    wav = speech_wav("Reply number 0.")
    for n, message_id in enumerate(ids):
        speech.keep(sessions, "alice", message_id, "autumn", f"h{n}", wav, limit=2 * len(wav))
    with sessions() as s:
        kept = set(s.scalars(select(SpeechClip.message_id)))
    assert kept == set(ids[1:])
    assert speech.cache_bytes(sessions, "alice") == 2 * len(wav)


def test_without_a_key_it_says_so_before_any_request(groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    message_id = reply(sessions, "", "Hello.")
    with pytest.raises(SpeechNeedsKey) as refused:
        speech.Speech(sessions, "", Providers(None, groq_server.base_url)).read_aloud(message_id, "Hello.")
    assert refused.value.actions == ("settings",)
    assert "Groq API key" in said(refused.value, "en") and "Groq API 密钥" in said(refused.value, "zh-CN")
    assert groq_server.speech_requests == []


@pytest.mark.parametrize(
    ("text", "voice", "key"),
    [
        ("你好，我是一个人工智能助手。", "autumn", "speech.not_english"),
        ("```\ncode only\n```", "autumn", "speech.nothing"),
        ("Hello.", "fahad", "speech.unknown_voice"),
    ],
)
def test_what_cannot_be_read_is_refused_before_any_request(
    groq_server: StandInGroq, sessions: sessionmaker[Session], text: str, voice: str, key: str
) -> None:
    message_id = reply(sessions, "", text)
    with pytest.raises(InvalidInput) as refused:
        speech.Speech(sessions, "", Providers(groq_server.api_key, groq_server.base_url)).read_aloud(
            message_id, text, voice
        )
    assert refused.value.key == key
    assert said(refused.value, "zh-CN") != said(refused.value, "en")
    assert groq_server.speech_requests == []


def test_groqs_errors_are_the_chats(groq_server: StandInGroq, sessions: sessionmaker[Session]) -> None:
    message_id = reply(sessions, "", "Hello.")
    with pytest.raises(ChatError) as refused:
        speech.Speech(sessions, "", Providers("gsk_wrong", groq_server.base_url)).read_aloud(message_id, "Hello.")
    assert refused.value.key == "error.auth" and refused.value.actions == ("settings",)


def test_a_streamed_wav_header_is_joined_by_its_bytes() -> None:
    wav = bytearray(speech_wav("Streamed."))
    wav[40:44] = (0xFFFFFFFF).to_bytes(4, "little")  # the data size a streaming server leaves open
    wav[4:8] = (0xFFFFFFFF).to_bytes(4, "little")
    joined = speech.join_wavs([bytes(wav), speech_wav("Two.")])
    assert frames(joined)[3] == speech_frames("Streamed.") + speech_frames("Two.")
    with pytest.raises(ChatError) as refused:
        speech.join_wavs([b"not a wav at all"])
    assert refused.value.key == "speech.unreadable"


def test_the_speech_cache_migration_upgrades_and_downgrades(db_url: str) -> None:
    from alembic import command

    from chatbot.store.db import alembic_config, make_engine, upgrade

    engine = make_engine(db_url)
    upgrade(engine, "0006")
    assert "speech_clips" not in inspect(engine).get_table_names()
    upgrade(engine, "0007")
    assert "speech_clips" in inspect(engine).get_table_names()
    assert {"ix_speech_clips_key", "ix_speech_clips_owner_used", "ix_speech_clips_message_id"} <= {
        ix["name"] for ix in inspect(engine).get_indexes("speech_clips")
    }
    upgrade(engine)  # a clip is written through today's models, which later migrations shaped
    sessions = sessionmaker(engine)
    speech.keep(sessions, "dave", reply(sessions, "dave", "Hi."), "autumn", "h", speech_wav("Hi."))
    command.downgrade(alembic_config(engine), "0006")  # down past 0007 with a clip stored
    assert "speech_clips" not in inspect(engine).get_table_names()
    assert {"conversations", "messages", "audio_usage"} <= set(inspect(engine).get_table_names())
    upgrade(engine)
    assert speech.cache_bytes(sessions, "dave") == 0
    engine.dispose()


def test_the_migrated_speech_table_matches_the_orm(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from chatbot.store.db import open_database
    from chatbot.store.models import Base

    engine, _ = open_database(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert [d for d in diffs if "speech_clips" in repr(d)] == []
