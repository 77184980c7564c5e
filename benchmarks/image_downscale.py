"""Downscaling a 12-megapixel photo for Groq (chatbot.images.prepare): EXIF applied and
stripped, at most 2,048 pixels a side, re-encoded under 560 kB, thumbnail made.

Target: under 0.5 s per photo. Reported as a ratio against a baseline measured in the same run
on the same file: Pillow's plain decode of the whole photo (``Image.open(...).load()``), the
least any handling of it must cost without JPEG's reduced-size decoding.

The photo is generated here: a 4,000 x 3,000 JPEG of smooth colour with sensor-like noise (not
flat colour, which would compress to nothing), carrying EXIF with an orientation and a GPS
position, as a phone writes it.

    python -m benchmarks.image_downscale [--trials 7]
"""

from __future__ import annotations

import argparse
import io
import random
import time
from statistics import median

from PIL import Image

from benchmarks.common import ratio
from benchmarks.report import machine_load, print_table, record
from chatbot import images

TARGET_SECONDS = 0.5
WIDTH, HEIGHT = 4000, 3000


def phone_photo(seed: int = 12) -> bytes:
    rng = random.Random(seed)
    small = Image.new("RGB", (WIDTH // 32, HEIGHT // 32))
    small.putdata(
        [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(small.width * small.height)]
    )
    smooth = small.resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    noise = Image.effect_noise((WIDTH, HEIGHT), 48).convert("RGB")
    photo = Image.blend(smooth, noise, 0.3)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the phone was held upright
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.0), "E", (2.0, 17.0, 40.0)
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=92, exif=exif)
    return out.getvalue()


def timed(action: object, trials: int) -> float:
    assert callable(action)
    action()  # warm: imports, codec tables
    runs = []
    for _ in range(trials):
        started = time.perf_counter()
        action()
        runs.append(time.perf_counter() - started)
    return median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=7)
    args = parser.parse_args()
    print(machine_load())
    data = phone_photo()

    def decode() -> None:
        with Image.open(io.BytesIO(data)) as image:
            image.load()

    def prepare() -> None:
        images.prepare("IMG_0001.jpg", data)

    prepared = images.prepare("IMG_0001.jpg", data)
    with Image.open(io.BytesIO(prepared.data)) as check:
        assert not check.getexif() and max(check.size) <= images.MAX_SIDE  # what is measured does the job
    baseline = timed(decode, args.trials)
    ours = timed(prepare, args.trials)
    rows = [
        ("12-megapixel photo → ready to send (s)", f"{ours:.3f}", f"{baseline:.3f}", ratio(ours, baseline)),
        ("file size (kB)", f"{prepared.size / 1024:.0f}", f"{len(data) / 1024:.0f}", ratio(prepared.size, len(data))),
        ("pixels", f"{prepared.width}×{prepared.height}", f"{WIDTH}×{HEIGHT}", "-"),
    ]
    header = ["figure", "prepare (ours)", "Pillow full decode (baseline)", "ratio"]
    print(f"\nmedian of {args.trials} trials ({machine_load()})")
    print_table(header, rows)
    met = ours < TARGET_SECONDS
    print(f"target: under {TARGET_SECONDS} s per photo — {'met' if met else 'MISSED'} ({ours:.3f} s)")
    record(
        "image_downscale",
        rows,
        target=f"downscaling and re-encoding a 12-megapixel photo < {TARGET_SECONDS} s",
        met=met,
        header=header,
        note="JPEG is decoded at reduced size (Pillow's draft mode), so preparing can cost less than a full decode.",
        command="python -m benchmarks.image_downscale",
    )


if __name__ == "__main__":
    main()
