"""A self-contained HTML page for sharing and printing.

Everything from the conversation is escaped; the page has no scripts and no external
resources, and its Content-Security-Policy forbids both, so a hostile message stays text.
"""

from __future__ import annotations

import base64
from html import escape

from chatbot.records import ConversationRecord, MessageRecord
from chatbot.tools import STORED, numbered_sources, restored, site

MIME = "text/html"

_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans CJK SC",sans-serif;
max-width:48rem;margin:2rem auto;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.6rem;margin-bottom:.25rem}.meta{color:#59636e;font-size:.9rem;margin-bottom:1.5rem}
.msg{border:1px solid #d1d9e0;border-radius:.5rem;padding:.75rem 1rem;margin:.75rem 0;page-break-inside:avoid}
.user{background:#f6f8fa}.role{font-weight:600;font-size:.85rem;color:#59636e;margin-bottom:.25rem}
.content{white-space:pre-wrap;overflow-wrap:anywhere}details{margin:.25rem 0 .5rem;color:#59636e}
.status{color:#9a6700;font-size:.85rem}.system{border-style:dashed}
.images{display:flex;flex-wrap:wrap;gap:.5rem;margin:.5rem 0}
.images img{max-width:100%;max-height:24rem;border-radius:.25rem}
@media print{body{margin:0;max-width:none}.msg{border-color:#999}}
"""


# The user's thumbs on a reply, as words a reader (and a search) finds, with the mark.
FEEDBACK = {1: "👍 Good reply", -1: "👎 Bad reply"}


def _message(m: MessageRecord, default_model: str) -> str:
    role = "User" if m.role == "user" else f"Assistant · {m.model or default_model}"
    parts = [
        f'<div class="msg {escape(m.role)}"><div class="role">{escape(role)} · {m.created_at:%Y-%m-%d %H:%M} UTC</div>'
    ]
    if m.reasoning:
        parts.append(f'<details><summary>Reasoning</summary><div class="content">{escape(m.reasoning)}</div></details>')
    parts.append(f'<div class="content">{escape(m.content)}</div>')
    sources = numbered_sources(restored((m.params or {}).get(STORED)))
    if sources:  # what Groq's web search found: links only, escaped, opened apart from this page
        parts.append('<div class="sources">Sources<ol>')
        for s in sources:
            link = f'<a href="{escape(s.url)}" target="_blank" rel="noopener noreferrer">{escape(s.title)}</a>'
            parts.append(f"<li>{link} · {escape(site(s.url))}</li>")
        parts.append("</ol></div>")
    if m.images:  # embedded as data: URIs (the only images the page's policy lets in): nothing remote
        parts.append('<div class="images">')
        for image in m.images:
            if image.mime in ("image/png", "image/jpeg", "image/gif", "image/webp"):
                source = f"data:{image.mime};base64,{base64.b64encode(image.data).decode('ascii')}"
                parts.append(f'<img src="{source}" alt="{escape(image.name)}" width="{image.width}">')
        parts.append("</div>")
    if m.status != "complete":
        parts.append(f'<div class="status">{escape(m.status)}</div>')
    if m.feedback:
        parts.append(f'<div class="feedback">{FEEDBACK[m.feedback]}</div>')
    parts.append("</div>")
    return "".join(parts)


def render(record: ConversationRecord, language: str = "en") -> str:
    title = record.title or "Conversation"
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<div class="meta">{escape(record.model)} · {record.created_at:%Y-%m-%d %H:%M} UTC'
        + (f" · {escape(', '.join(record.tags))}" if record.tags else "")
        + "</div>",
    ]
    for prompt, messages in record.system_prompts():
        if prompt:  # each reply's own prompt, where it changed
            body.append(
                f'<div class="msg system"><div class="role">System</div>'
                f'<div class="content">{escape(prompt)}</div></div>'
            )
        body.extend(_message(m, record.model) for m in messages)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(language)}"><head><meta charset="utf-8">'
        # Images only as data: URIs (the conversation's own, embedded): the page loads nothing.
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
