"""Images for vision models: checked, turned upright, stripped of EXIF, downscaled to fit Groq's
limits; stored once per person and content; sent as data URLs through the real groq SDK to the
stand-in (or as a note to a text-only model); deleted with the last conversation using them;
exported and imported with their conversation. Every test runs on SQLite and PostgreSQL when
it uses the database."""

from __future__ import annotations

import base64
import io
import json
import random
import zipfile
import zlib

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chatbot import context_budget, images, vision
from chatbot.conversation import ConversationService
from chatbot.errors import ChatError, InvalidInput
from chatbot.history import HistoryService
from chatbot.i18n import set_language, t
from chatbot.importing import Upload
from chatbot.providers import Providers
from chatbot.providers.base import ChatMessage, ChatRequest, ImagePart, ModelInfo
from chatbot.providers.groq_api import GroqProvider
from chatbot.reply import TurnSetup
from chatbot.settings import AppSettings
from chatbot.store import repo
from chatbot.store.models import Attachment, Message, MessageAttachment
from chatbot.turns import Turns
from tests.stand_in_groq import StandInGroq

VISION = ModelInfo("qwen/qwen3.8-27b", "groq", context_window=131042, max_completion_tokens=16384)
TEXT_ONLY = ModelInfo("openai/gpt-oss-20b", "groq", context_window=131072, max_completion_tokens=65536)
SETTINGS = AppSettings(system_prompt="", max_tokens=256)


pytestmark = pytest.mark.usefixtures("english")


def photo(width: int, height: int, seed: int = 1) -> Image.Image:
    """Photo-like content (smooth gradients plus sensor noise): JPEG cannot shrink it to nothing."""
    rng = random.Random(seed)
    small = Image.new("RGB", (max(1, width // 16), max(1, height // 16)))
    small.putdata(
        [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(small.width * small.height)]
    )
    base = small.resize((width, height), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    return Image.blend(base, noise, 0.25)


def jpeg(image: Image.Image, exif: Image.Exif | None = None, quality: int = 92) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif if exif is not None else Image.Exif())
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 29.0)  # Paris
    gps[3] = "E"
    gps[4] = (2.0, 17.0, 40.0)
    return exif


def turns_for(server: StandInGroq, sessions: sessionmaker[Session], owner: str = "") -> Turns:
    providers = Providers(server.api_key, server.base_url)
    return Turns(sessions, providers, owner=owner)


def send(turns: Turns, conversation_id: str | None, text: str, model: ModelInfo, pictures=()) -> str:  # type: ignore[no-untyped-def]
    reply = turns.send(conversation_id, text, TurnSetup(model, SETTINGS, lambda: None, (model,)), None, pictures)
    for _ in reply:
        pass
    assert reply.error is None, reply.error
    return reply.conversation_id


# --------------------------------------------------------------------------- preparing


def test_a_12_megapixel_photo_is_downscaled_and_reencoded_under_groqs_limits() -> None:
    data = jpeg(photo(4000, 3000))
    assert len(data) > images.MAX_STORED_BYTES  # too large to send as it is
    prepared = images.prepare("holiday.jpg", data)
    assert prepared.mime == "image/jpeg" and images.sniff(prepared.data) == "image/jpeg"
    assert max(prepared.width, prepared.height) <= images.MAX_SIDE
    assert (prepared.width, prepared.height) == Image.open(io.BytesIO(prepared.data)).size
    assert prepared.width / prepared.height == pytest.approx(4 / 3, rel=0.01)  # not distorted
    assert prepared.size <= images.MAX_STORED_BYTES
    # Five of them, in base64, still fit Groq's 4 MB for a base64 request.
    assert 5 * images.base64_size(prepared.size) < images.GROQ_MAX_BASE64_BYTES
    with Image.open(io.BytesIO(prepared.thumbnail)) as thumb:
        assert max(thumb.size) == images.THUMBNAIL_SIDE


def test_gps_location_is_removed_and_the_camera_orientation_applied() -> None:
    source = photo(600, 400)
    data = jpeg(source, gps_exif(orientation=6))  # 6: the camera was turned; show rotated 90°
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(0x8825)  # the test file does carry a location
    prepared = images.prepare("IMG_0001.jpg", data)
    with Image.open(io.BytesIO(prepared.data)) as stored:
        assert stored.size == (400, 600)  # upright, as the camera meant it
        assert not stored.getexif()  # no EXIF at all: no location, no camera
        assert "exif" not in stored.info
    assert b"PhoneMaker" not in prepared.data and b"PhoneMaker" not in prepared.thumbnail


def test_a_small_screenshot_stays_lossless_png() -> None:
    shot = Image.new("RGB", (800, 500), "white")
    for x in range(0, 800, 40):
        shot.paste((30, 30, 30), (x, 0, x + 2, 500))
    prepared = images.prepare("screen.png", png(shot))
    assert prepared.mime == "image/png"
    assert Image.open(io.BytesIO(prepared.data)).convert("RGB").tobytes() == shot.tobytes()


def test_a_jpeg_named_png_is_taken_for_what_it_is() -> None:
    prepared = images.prepare("really-a-jpeg.png", jpeg(photo(300, 200)))
    assert prepared.mime == "image/jpeg"


@pytest.mark.parametrize(
    ("name", "data", "key"),
    [
        ("empty.png", b"", "images.empty"),
        ("notes.png", b"These are my notes, not a picture.\n" * 20, "images.not_image"),
        ("cut.png", png(Image.new("RGB", (400, 300), "red"))[:60], "images.corrupt"),
        ("garbage.jpg", b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8, "images.corrupt"),
        ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (images.MAX_FILE_BYTES + 1), "images.too_large"),
    ],
    ids=["zero-bytes", "renamed-text", "cut-short", "corrupt", "over-20-MB"],
)
def test_bad_files_each_get_a_clear_message_in_both_languages(name: str, data: bytes, key: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        images.prepare(name, data)
    assert caught.value.key == key
    for language in ("en", "zh-CN"):
        set_language(language)
        message = t(caught.value.key, **caught.value.values)
        assert name in message and "{" not in message


def test_a_picture_over_64_megapixels_is_refused_before_it_is_decoded() -> None:
    # A PNG header claiming 10,000 x 10,000 pixels, with almost nothing behind it (a "bomb").
    header = png(Image.new("L", (1, 1)))
    ihdr = bytearray(header)
    ihdr[16:24] = (10_000).to_bytes(4, "big") + (10_000).to_bytes(4, "big")
    ihdr[29:33] = zlib.crc32(bytes(ihdr[12:29])).to_bytes(4, "big")  # a valid header chunk
    with pytest.raises(InvalidInput) as caught:
        images.prepare("bomb.png", bytes(ihdr))
    assert caught.value.key == "images.too_many_pixels" and caught.value.values["megapixels"] == 100


def test_at_most_five_images_go_with_one_message() -> None:
    one = png(Image.new("RGB", (10, 10), "blue"))
    with pytest.raises(InvalidInput) as caught:
        images.prepare_all([(f"{i}.png", one) for i in range(6)])
    assert caught.value.values == {"count": 6, "limit": 5}


# --------------------------------------------------------------------------- which models see


def test_the_vision_table_and_its_extension_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert vision.sees_images(VISION) and not vision.sees_images(TEXT_ONLY)
    assert not vision.sees_images(ModelInfo("qwen/qwen3.8-27b", "local"))  # the built-in model reads text
    newcomer = ModelInfo("vendor/new-vl", "groq")
    assert not vision.sees_images(newcomer)
    monkeypatch.setenv(vision.ENV_VAR, " vendor/new-vl , other/x ")
    assert vision.sees_images(newcomer)
    assert vision.vision_model([TEXT_ONLY, newcomer, VISION]) == newcomer  # the environment's first
    monkeypatch.delenv(vision.ENV_VAR)
    assert vision.vision_model([TEXT_ONLY, VISION]) == VISION
    assert vision.vision_model([TEXT_ONLY]) is None


def test_images_count_in_the_context_budget() -> None:
    text = [ChatMessage("user", "What is this?")]
    with_image = [ChatMessage("user", "What is this?", (ImagePart("image/png", b"x", 1024, 1024),))]
    extra = context_budget.estimate_messages(with_image) - context_budget.estimate_messages(text)
    assert extra == context_budget.image_tokens(1024, 1024) > 1000


# --------------------------------------------------------------------------- the stand-in, real SDK


def test_the_stand_in_refuses_images_as_groq_does() -> None:
    part = ImagePart("image/png", png(Image.new("RGB", (20, 20), "green")), 20, 20)
    with StandInGroq() as server:
        provider = GroqProvider(server.api_key, server.base_url, timeout=10.0)

        def error_of(model: str, parts: tuple[ImagePart, ...]) -> ChatError:
            request = ChatRequest(model, [ChatMessage("system", "Be brief."), ChatMessage("user", "Look", parts)])
            with pytest.raises(ChatError) as caught:
                list(provider.stream_chat(request))
            return caught.value

        assert error_of(TEXT_ONLY.id, (part,)).key == "error.bad_request"
        body = server.requests[-1]
        assert json.loads(body["raw"])["messages"][1]["content"][1]["type"] == "image_url"
        assert server.image_requests[-1]["status"] == 400
        assert error_of(VISION.id, (part,) * 6).key == "error.bad_request"  # over 5 per request
        big = ImagePart("image/jpeg", b"\xff\xd8\xff" + b"\0" * (4 * 1024 * 1024), 10, 10)
        assert error_of(VISION.id, (big,)).key.startswith("error.too_large")  # 413 above 4 MB of base64
        assert [r["status"] for r in server.image_requests] == [400, 400, 413]


def test_an_image_reaches_a_vision_model_as_a_data_url_under_the_limit(
    sessions: sessionmaker[Session],
) -> None:
    prepared = images.prepare("photo.jpg", jpeg(photo(3000, 2000), gps_exif()))
    with StandInGroq() as server:
        turns = turns_for(server, sessions)
        send(turns, None, "What is in this photo?", VISION, [prepared])
        content = server.chat_requests[-1]["json"]["messages"][-1]["content"]
        assert content[0] == {"type": "text", "text": "What is in this photo?"}
        url = content[1]["image_url"]["url"]
        assert url.startswith("data:image/jpeg;base64,")
        sent = base64.b64decode(url.split(",", 1)[1])
        assert sent == prepared.data and b"PhoneMaker" not in sent
        assert server.image_requests[-1] == {
            "model": VISION.id,
            "count": 1,
            "images": [
                {
                    "mime": "image/jpeg",
                    "url_chars": len(url),
                    "size": prepared.size,
                    "width": prepared.width,
                    "height": prepared.height,
                }
            ],
            "status": 200,
        }
        assert len(url) < images.GROQ_MAX_BASE64_BYTES


def test_a_picture_alone_is_a_message(sessions: sessionmaker[Session]) -> None:
    prepared = images.prepare("diagram.png", png(Image.new("RGB", (64, 64), "navy")))
    with StandInGroq() as server:
        conversation = send(turns_for(server, sessions), None, "", VISION, [prepared])
        content = server.chat_requests[-1]["json"]["messages"][-1]["content"]
        assert [p["type"] for p in content] == ["image_url"]
    assert HistoryService(sessions).summary(conversation).title == "diagram.png"  # type: ignore[union-attr]


def test_a_conversation_with_images_continues_on_a_text_only_model_with_a_note(
    sessions: sessionmaker[Session],
) -> None:
    prepared = images.prepare("chart.png", png(Image.new("RGB", (50, 50), "orange")))
    with StandInGroq() as server:
        turns = turns_for(server, sessions)
        conversation = send(turns, None, "Describe the chart", VISION, [prepared])
        send(turns, conversation, "Now summarise in one line", TEXT_ONLY)
        request = server.chat_requests[-1]["json"]
        assert request["model"] == TEXT_ONLY.id
        assert all(isinstance(m["content"], str) for m in request["messages"])  # nothing Groq would refuse
        assert request["messages"][0]["content"] == f"Describe the chart\n\n{vision.OMITTED_NOTE}"
        assert len(server.image_requests) == 1  # only the first request carried the image
        # Back on the vision model, the image is sent again.
        send(turns, conversation, "And the colours?", VISION)
        assert server.chat_requests[-1]["json"]["messages"][0]["content"][1]["type"] == "image_url"


def test_only_the_newest_five_images_are_sent_the_rest_noted(sessions: sessionmaker[Session]) -> None:
    pictures = [images.prepare(f"{i}.png", png(Image.new("RGB", (30, 30), (i * 40, 0, 0)))) for i in range(4)]
    with StandInGroq() as server:
        turns = turns_for(server, sessions)
        conversation = send(turns, None, "First four", VISION, pictures)
        send(turns, conversation, "Two more", VISION, pictures[1::-1])
        messages = server.chat_requests[-1]["json"]["messages"]
        assert server.image_requests[-1]["count"] == 5
        first = messages[0]["content"]
        assert first[0]["text"] == f"First four\n\n{vision.EARLIER_NOTE}"
        assert sum(p["type"] == "image_url" for p in first) == 3


# --------------------------------------------------------------------------- storage


def test_the_same_image_is_stored_once_per_person(sessions: sessionmaker[Session]) -> None:
    prepared = images.prepare("cat.png", png(Image.new("RGB", (40, 40), "gray")))
    with StandInGroq() as server:
        alice = turns_for(server, sessions, "alice")
        one = send(alice, None, "A cat", VISION, [prepared])
        send(alice, one, "The same cat again", VISION, [prepared])
        send(alice, None, "And in another chat", VISION, [prepared])
        send(turns_for(server, sessions, "bob"), None, "Bob's cat", VISION, [prepared])
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageAttachment)) == 4
        owners = sorted(s.scalars(select(Attachment.owner)))
        assert owners == ["alice", "bob"]  # one row each, never shared across people
        stored = s.scalar(select(Attachment.data).where(Attachment.owner == "alice"))
        assert stored == prepared.data and len(stored) <= images.MAX_STORED_BYTES


def test_deleting_a_conversation_deletes_only_the_images_no_other_uses(sessions: sessionmaker[Session]) -> None:
    shared = images.prepare("shared.png", png(Image.new("RGB", (20, 20), "teal")))
    own = images.prepare("own.png", png(Image.new("RGB", (20, 20), "plum")))
    with StandInGroq() as server:
        turns = turns_for(server, sessions)
        first = send(turns, None, "Both", VISION, [shared, own])
        second = send(turns, None, "Shared only", VISION, [shared])
    history = HistoryService(sessions)

    def stored() -> set[str]:
        with sessions() as s:
            return set(s.scalars(select(Attachment.name)))

    history.delete([first])
    assert stored() == {"shared.png", "own.png"}  # in the trash: still restorable
    with sessions.begin() as s:
        repo.purge_conversations(s, "", [first])
    assert stored() == {"shared.png"}
    with sessions.begin() as s:
        assert repo.delete_conversation(s, "", second)
    assert stored() == set()
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageAttachment)) == 0


def test_a_fork_and_an_edit_keep_the_images(sessions: sessionmaker[Session]) -> None:
    prepared = images.prepare("map.png", png(Image.new("RGB", (20, 20), "khaki")))
    with StandInGroq() as server:
        turns = turns_for(server, sessions)
        conversation = send(turns, None, "Where is this?", VISION, [prepared])
        conversations = ConversationService(sessions)
        question = conversations.recent_messages(conversation).turns[0]
        forked = conversations.fork(conversation, question.id)
        reply = turns.edit(conversation, question.id, "Where exactly?", TurnSetup(VISION, SETTINGS, lambda: None, ()))
        list(reply)
        assert server.chat_requests[-1]["json"]["messages"][-1]["content"][1]["type"] == "image_url"
    fork_question = ConversationService(sessions).recent_messages(forked).turns[0]
    assert [i.name for i in turns.images.thumbnails([fork_question.id])[fork_question.id]] == ["map.png"]
    with sessions.begin() as s:
        repo.purge_conversations(s, "", [conversation])
    assert turns.images.thumbnails([fork_question.id])[fork_question.id][0].name == "map.png"


def test_each_person_has_a_bounded_space_for_images(sessions: sessionmaker[Session]) -> None:
    first = images.prepare("a.png", png(photo(200, 200, seed=1)))
    second = images.prepare("b.png", png(photo(200, 200, seed=2)))
    with StandInGroq() as server:
        alice = turns_for(server, sessions, "alice")
        send(alice, None, "First", VISION, [first])
    limit = first.size + second.size - 1
    alice.images.check_room([first], limit)  # already stored: takes no more room
    with pytest.raises(InvalidInput) as caught:
        alice.images.check_room([first, second], limit)
    assert caught.value.key == "images.storage_full"
    Turns(sessions, Providers(None), owner="bob").images.check_room([second], limit)  # bob has his own space
    for language in ("en", "zh-CN"):
        set_language(language)
        assert "500 MB" in t("images.storage_full", limit=images.MAX_STORED_PER_PERSON_WORDS)


def test_a_full_image_is_only_its_owners(sessions: sessionmaker[Session]) -> None:
    prepared = images.prepare("private.png", png(Image.new("RGB", (20, 20), "red")))
    with StandInGroq() as server:
        alice = turns_for(server, sessions, "alice")
        conversation = send(alice, None, "Mine", VISION, [prepared])
    question = ConversationService(sessions, "alice").recent_messages(conversation).turns[0]
    thumb = alice.images.thumbnails([question.id])[question.id][0]
    assert alice.images.full(thumb.id).data == prepared.data  # type: ignore[union-attr]
    assert Turns(sessions, Providers(None), owner="mallory").images.full(thumb.id) is None


# --------------------------------------------------------------------------- export, import


def test_json_zip_and_html_exports_carry_the_images_and_import_restores_them(
    sessions: sessionmaker[Session], new_database
) -> None:  # type: ignore[no-untyped-def]
    prepared = images.prepare("photo.jpg", jpeg(photo(900, 600), gps_exif()))
    second = images.prepare("sketch.png", png(Image.new("RGB", (32, 32), "black")))
    with StandInGroq() as server:
        conversation = send(turns_for(server, sessions), None, "Look", VISION, [prepared, second])
    history = HistoryService(sessions)

    exported = json.loads(history.export([conversation], "json").data)
    shown = exported["conversations"][0]["messages"][0]["images"]
    assert [i["name"] for i in shown] == ["photo.jpg", "sketch.png"]
    assert base64.b64decode(shown[0]["data"]) == prepared.data

    for fmt in ("md", "txt"):  # for reading: each image named where it was
        assert (
            f"[image: photo.jpg, {prepared.width}×{prepared.height}]"
            in history.export([conversation], fmt).data.decode()
        )
    page = history.export([conversation], "html").data.decode()
    assert page.count('<img src="data:image/') == 2 and "img-src data:" in page
    assert "http://" not in page.split("<body>")[1] and "https://" not in page.split("<body>")[1]

    everything = history.export_everything()
    with zipfile.ZipFile(io.BytesIO(everything.data)) as archive:
        names = archive.namelist()
        assert f"images/{prepared.sha256}.jpg" in names and f"images/{second.sha256}.png" in names
        assert archive.read(f"images/{prepared.sha256}.jpg") == prepared.data

    from chatbot.store.db import open_database

    engine, target_sessions = open_database(new_database("target"))
    try:
        target = HistoryService(target_sessions)
        for upload in (
            Upload("export.json", history.export([conversation], "json").data),
            Upload("all.zip", everything.data),
        ):
            target.import_uploads([upload])
            with target_sessions() as s:
                rows = s.execute(select(Attachment.name, Attachment.data).order_by(Attachment.name)).all()
            assert [(n, d) for n, d in rows] == [("photo.jpg", prepared.data), ("sketch.png", second.data)]
        restored = ConversationService(target_sessions).recent_messages(conversation).turns[0]
        shown_again = Turns(target_sessions, Providers(None)).images.thumbnails([restored.id])
        assert [i.name for i in shown_again[restored.id]] == ["photo.jpg", "sketch.png"]
    finally:
        engine.dispose()


def test_an_export_with_a_bad_image_is_refused_naming_it(sessions: sessionmaker[Session]) -> None:
    prepared = images.prepare("ok.png", png(Image.new("RGB", (20, 20), "lime")))
    with StandInGroq() as server:
        conversation = send(turns_for(server, sessions), None, "Fine", VISION, [prepared])
    history = HistoryService(sessions)
    document = json.loads(history.export([conversation], "json").data)
    document["conversations"][0]["messages"][0]["images"][0]["data"] = base64.b64encode(b"not a picture").decode()
    with pytest.raises(ChatError) as caught:
        history.preview_import([Upload("bad.json", json.dumps(document).encode())])
    assert caught.value.key == "import.damaged"
    assert caught.value.values["where"] == "conversations[0].messages[0].images[0].data"


def test_images_are_gone_from_the_database_once_their_message_is(sessions: sessionmaker[Session]) -> None:
    prepared = images.prepare("x.png", png(Image.new("RGB", (20, 20), "silver")))
    with StandInGroq() as server:
        conversation = send(turns_for(server, sessions), None, "x", VISION, [prepared])
    with sessions.begin() as s:
        s.execute(Message.__table__.delete().where(Message.conversation_id == conversation))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(MessageAttachment)) == 0  # ON DELETE CASCADE
