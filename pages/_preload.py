"""What ``st.write_stream`` imports on its first use, paid once per server process, off the
critical path.

``st.write_stream`` first asks whether its argument is a dataframe, which imports numpy, pandas
and pyarrow (0.7 s, several seconds on a busy machine). Left to the first reply, that wait
would come between the user's Enter and the first word. The chat page calls
``preload_write_stream`` at the end of its run, once the page is drawn: a daemon thread pays the
imports while the user reads and types. A reply that starts sooner only waits for the rest.
"""

from __future__ import annotations

import importlib
import threading

_started = threading.Event()
_lock = threading.Lock()


def _import() -> None:
    for name in ("numpy", "pandas", "pyarrow"):
        importlib.import_module(name)


def preload_write_stream() -> None:
    """Start the imports in the background, the first time only (per process)."""
    with _lock:
        if _started.is_set():
            return
        _started.set()
    threading.Thread(target=_import, name="preload-write-stream", daemon=True).start()
