"""The built-in model through the app's path vs raw llama-cpp-python, same prompt and settings.

    python -m benchmarks.local_model_speed [--runs 3] [--tokens 200]

Ours = LocalProvider.stream_chat through Turns.stream_reply (SQLite persistence, one
flush a second) and the 50 ms coalescer, as the chat page uses it. Baseline = the same Llama
object's create_chat_completion(stream=True) consumed in a bare loop. Runs alternate so both
see the same machine load; the figure is the ratio of median tokens/s.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.report import print_table, record
from chatbot.conversation import ConversationService
from chatbot.providers import local
from chatbot.providers.base import ChatMessage, ModelInfo, TextDelta
from chatbot.reply import NewChatOptions
from chatbot.settings import AppSettings
from chatbot.store.db import open_database
from chatbot.streaming import coalesce
from chatbot.turns import Turns

PROMPT = [
    ChatMessage("system", "You are a helpful assistant."),
    ChatMessage("user", "Write a long story about a lighthouse keeper and a storm."),
]


def raw_tokens_per_second(tokens: int) -> float:
    llama = local._load()
    started = time.perf_counter()
    count = 0
    for chunk in llama.create_chat_completion(
        messages=[{"role": m.role, "content": m.content} for m in PROMPT],
        stream=True,
        max_tokens=tokens,
        temperature=0.0,
        top_p=1.0,
    ):
        if chunk["choices"][0]["delta"].get("content"):
            count += 1
    return count / (time.perf_counter() - started)


def app_tokens_per_second(chat: Turns, conversations: ConversationService, model: ModelInfo, tokens: int) -> float:
    settings = AppSettings(temperature=0.0, top_p=1.0, max_tokens=tokens, system_prompt=PROMPT[0].content)
    pending = chat.start_turn(None, PROMPT[1].content, model, settings, new_chat=NewChatOptions(PROMPT[0].content))
    started = time.perf_counter()
    texts = (e.text for e in chat.stream_reply(pending) if isinstance(e, TextDelta))
    for _ in coalesce(texts):
        pass
    elapsed = time.perf_counter() - started
    turn = conversations.recent_messages(pending.conversation_id).turns[-1]
    return (turn.completion_tokens or 0) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sessions = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")[1]
        provider = local.LocalProvider()
        chat = Turns(sessions, lambda _name: provider)
        model = provider.list_models()[0]
        raw_tokens_per_second(16)  # load the model and warm up once, outside the figures
        raw, ours = [], []
        for _ in range(args.runs):
            raw.append(raw_tokens_per_second(args.tokens))
            ours.append(app_tokens_per_second(chat, ConversationService(sessions), model, args.tokens))
    ratio = statistics.median(ours) / statistics.median(raw)
    rows = [("local model tokens/s", f"{statistics.median(ours):.1f}", f"{statistics.median(raw):.1f}", f"{ratio:.2f}")]
    print_table(["figure", "ours", "raw llama-cpp-python", "ratio"], rows)
    record("local_model_speed", rows, target="ratio ≥ 0.90", met=ratio >= 0.90)


if __name__ == "__main__":
    main()
