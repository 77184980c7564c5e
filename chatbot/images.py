"""Images attached to a message: checked, turned upright, stripped of EXIF, downscaled and
re-encoded with Pillow so that what is stored and sent fits Groq's vision limits.

Never imports Streamlit. Bounds, in words:

- at most 5 images per message (Groq takes at most 5 per request);
- at most 20 MB per file as attached (Groq's limit for an image URL request);
- at most 64 megapixels per picture as attached (a larger one is refused before it is decoded,
  so a "decompression bomb" costs nothing); what is sent has at most 2,048 pixels on its longest
  side (about 4 megapixels, far under Groq's 33 megapixels);
- at most 560 kB per image as stored and sent, so 5 of them in base64 (4/3 larger) stay under
  Groq's 4 MB for a base64 request with room for the text;
- at most 500 MB of stored images per person (each image counted once, however many messages
  show it); deleting conversations frees what only they used.

EXIF (the camera's orientation, and location) is applied, then left out of the re-encoded file:
nothing stored or sent carries the place a photo was taken.
"""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import PurePath

from chatbot.errors import InvalidInput

MAX_IMAGES = 5  # per message, and per request (Groq)
MAX_FILE_BYTES = 20 * 1024 * 1024  # per file as attached
MAX_FILE_WORDS = "20 MB"
MAX_SOURCE_PIXELS = 64_000_000  # per picture as attached
MAX_SIDE = 2048  # longest side sent
MAX_STORED_BYTES = 560 * 1024  # per image as stored and sent
THUMBNAIL_SIDE = 256
MAX_STORED_PER_PERSON = 500 * 1024 * 1024
MAX_STORED_PER_PERSON_WORDS = "500 MB"
GROQ_MAX_PIXELS = 33_177_600  # per image (Groq)
GROQ_MAX_BASE64_BYTES = 4 * 1024 * 1024  # a base64 request (Groq: 413 above)
IMAGE_TYPES = ("png", "jpg", "jpeg", "webp", "gif")  # what the chat input offers for images

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


@dataclass(frozen=True)
class PreparedImage:
    """An image as stored and sent: re-encoded (PNG or JPEG), upright, without EXIF."""

    name: str
    mime: str
    data: bytes
    width: int
    height: int
    thumbnail: bytes  # JPEG, at most THUMBNAIL_SIDE on its longest side

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def size(self) -> int:
        return len(self.data)


def is_image_name(name: str) -> bool:
    """A file the chat input hands over as an image (by its name; its bytes decide later)."""
    return PurePath(name).suffix.lower().lstrip(".") in IMAGE_TYPES


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are (PNG, JPEG, GIF, WebP), whatever the file's name."""
    for signature, mime in _SIGNATURES:
        if data.startswith(signature):
            return mime
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def base64_size(size: int) -> int:
    return 4 * ((size + 2) // 3)


def _encode(image: object, fmt: str, quality: int) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    out = io.BytesIO()
    if fmt == "PNG":
        image.save(out, "PNG", optimize=False, compress_level=6)
    else:
        image.save(out, "JPEG", quality=quality, optimize=True, progressive=False)
    return out.getvalue()


def _flattened(image: object) -> object:
    """RGB for JPEG: transparency over white (as a chat bubble shows it)."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _fitted(image: object, lossless_first: bool) -> tuple[bytes, str, object]:
    """The smallest-effort encoding under MAX_STORED_BYTES: PNG when the source was lossless
    and it fits (screenshots stay sharp), else JPEG at falling quality, then smaller."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    if lossless_first:
        png_ready = image if image.mode in ("RGB", "RGBA", "L", "LA") else image.convert("RGBA")
        data = _encode(png_ready, "PNG", 0)
        if len(data) <= MAX_STORED_BYTES:
            return data, "image/png", png_ready
    rgb = _flattened(image)
    assert isinstance(rgb, Image.Image)
    while True:
        for quality in (85, 75, 65):
            data = _encode(rgb, "JPEG", quality)
            if len(data) <= MAX_STORED_BYTES:
                return data, "image/jpeg", rgb
        smaller = (max(1, rgb.width * 3 // 4), max(1, rgb.height * 3 // 4))
        rgb = rgb.resize(smaller, Image.Resampling.LANCZOS)


def thumbnail(image: object) -> bytes:
    from PIL import Image

    assert isinstance(image, Image.Image)
    small = _flattened(image)
    assert isinstance(small, Image.Image)
    small = small.copy()
    small.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.BILINEAR)
    return _encode(small, "JPEG", 80)


def prepare(name: str, data: bytes) -> PreparedImage:
    """``data`` as stored and sent, or ``InvalidInput`` saying why not: empty, over 20 MB, not
    an image (whatever its name says), damaged, or over 64 megapixels."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise InvalidInput("images.empty", name=name)
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("images.too_large", name=name, limit=MAX_FILE_WORDS)
    mime = sniff(data)
    if mime is None:
        raise InvalidInput("images.not_image", name=name)
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 megapixels; the bound below says what is refused, in words.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[_FORMATS[mime]])
        with opened:
            width, height = opened.size
            if width * height > MAX_SOURCE_PIXELS:
                raise InvalidInput(
                    "images.too_many_pixels",
                    name=name,
                    megapixels=round(width * height / 1e6),
                    limit=MAX_SOURCE_PIXELS // 1_000_000,
                )
            lossless = mime != "image/jpeg"
            if mime == "image/jpeg" and max(width, height) > MAX_SIDE:
                # JPEG decodes at 1/2, 1/4 or 1/8 scale for a fraction of the cost: a 12-megapixel
                # photo is read at about the size it is sent at (its longest side at least 3/4 of
                # MAX_SIDE), not decoded whole and then shrunk.
                scale = MAX_SIDE * 3 / 4 / max(width, height)
                opened.draft("RGB", (int(width * scale), int(height * scale)))
            opened.load()
            upright = ImageOps.exif_transpose(opened)  # EXIF is read here and not kept
    except InvalidInput:
        raise
    except Image.DecompressionBombError:  # over twice Pillow's own bound: refused unread
        limit = MAX_SOURCE_PIXELS // 1_000_000
        raise InvalidInput("images.too_many_pixels", name=name, megapixels=2 * 89, limit=limit) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise InvalidInput("images.corrupt", name=name) from None
    if upright.mode not in ("RGB", "RGBA", "L", "LA", "P"):
        upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
    if max(upright.size) > MAX_SIDE:
        upright = upright.copy() if upright is opened else upright
        upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    upright.info.clear()  # no EXIF, XMP or ICC text goes into the new file
    encoded, out_mime, final = _fitted(upright, lossless)
    assert isinstance(final, Image.Image)
    return PreparedImage(name, out_mime, encoded, final.width, final.height, thumbnail(final))


def prepare_all(files: list[tuple[str, bytes]]) -> list[PreparedImage]:
    if len(files) > MAX_IMAGES:
        raise InvalidInput("images.too_many", count=len(files), limit=MAX_IMAGES)
    return [prepare(name, data) for name, data in files]


def restored(name: str, data: bytes) -> PreparedImage:
    """An image read back from one of our exports: kept byte for byte when it is what this
    module stores (PNG or JPEG within the bounds, no EXIF), so a re-import deduplicates against
    the original; anything else is checked and re-encoded like an attached image."""
    from PIL import Image

    mime = sniff(data)
    if mime in ("image/png", "image/jpeg") and 0 < len(data) <= MAX_STORED_BYTES:
        try:
            with Image.open(io.BytesIO(data), formats=[_FORMATS[mime]]) as opened:
                clean = max(opened.size) <= MAX_SIDE and not opened.getexif() and "exif" not in opened.info
                if clean:
                    opened.load()
                    return PreparedImage(name, mime, data, opened.width, opened.height, thumbnail(opened))
        except (Image.DecompressionBombError, OSError, ValueError, SyntaxError, EOFError):
            raise InvalidInput("images.corrupt", name=name) from None
    return prepare(name, data)
