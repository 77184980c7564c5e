"""The copy buttons of the messages: a message's Markdown source to the clipboard, in the browser.

One Components v2 element for a whole set of messages (Streamlit has no clipboard API, and a
component per message made a long conversation open a second slower): its script puts a small
button at the start of each message's action row (the container keyed ``row_<id>``) and keeps it
there when Streamlit draws the row again. Its HTML, CSS and JS are ours and fixed; the messages
travel only in ``data`` and go to ``navigator.clipboard.writeText`` as text, never as markup. No
event goes back to the server: a copy reruns nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from chatbot.conversation import Turn
from chatbot.i18n import t

# Global, not in the component's shadow root: the buttons live in the rows.
_STYLE = """
button.copy-message { background: none; border: none; color: inherit; opacity: .7; cursor: pointer;
  padding: 4px; border-radius: .5rem; display: flex; align-items: center; }
button.copy-message:hover, button.copy-message:focus-visible { opacity: 1; background: rgba(128, 128, 128, .15); }
button.copy-message.done { color: #21a366; opacity: 1; }
"""
_ICON = (
    "M9 18q-.82 0-1.41-.59T7 16V4q0-.82.59-1.41T9 2h9q.82 0 1.41.59T20 4v12q0 .82-.59 1.41T18 18zm0-2h9V4H9zm-4 "
    "6q-.82 0-1.41-.59T3 20V6h2v14h11v2zm4-6V4z"
)
# Installed once per tab (window.__copyMessages); each element adds its messages' texts. Nodes are
# built one by one: no markup is ever parsed from data.
_JS = f"""
const STYLE = {_STYLE!r};
const ICON = {_ICON!r};
function labelled(button, label) {{
  button.setAttribute("aria-label", label);
  button.title = label;
}}
function install() {{
  const copies = {{texts: new Map(), label: "", done: ""}};
  const style = document.createElement("style");
  style.textContent = STYLE;
  document.head.appendChild(style);
  const SVG = "http://www.w3.org/2000/svg";
  const make = (id) => {{
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-message";
    button.dataset.message = id;
    labelled(button, copies.label);
    const svg = document.createElementNS(SVG, "svg");
    const attributes = [["viewBox", "0 0 24 24"], ["width", "18"], ["height", "18"], ["aria-hidden", "true"]];
    for (const [name, value] of attributes) svg.setAttribute(name, value);
    const path = document.createElementNS(SVG, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute("d", ICON);
    svg.appendChild(path);
    button.appendChild(svg);
    return button;
  }};
  copies.place = () => {{
    for (const id of copies.texts.keys()) {{
      const row = document.querySelector(".st-key-row_" + CSS.escape(id));
      if (row && !row.querySelector(":scope > button.copy-message")) row.prepend(make(id));
    }}
  }};
  let queued = false;  // one look per frame, however many changes React made in it
  new MutationObserver(() => {{
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {{ queued = false; copies.place(); }});
  }}).observe(document.body, {{childList: true, subtree: true}});
  document.addEventListener("click", async (event) => {{
    const button = event.target.closest && event.target.closest("button.copy-message");
    if (!button) return;
    const text = copies.texts.get(button.dataset.message);
    if (text === undefined) return;
    try {{
      await navigator.clipboard.writeText(text);
    }} catch (error) {{
      return;  // no clipboard here (not a secure page, or refused): nothing was copied
    }}
    button.classList.add("done");
    labelled(button, copies.done);
    setTimeout(() => {{ button.classList.remove("done"); labelled(button, copies.label); }}, 1500);
  }});
  return copies;
}}
export default function ({{ data }}) {{
  const copies = window.__copyMessages || (window.__copyMessages = install());
  copies.label = data.label;
  copies.done = data.done;
  for (const [id, text] of Object.entries(data.texts)) copies.texts.set(id, text);
  copies.place();
}}
"""
_copy = st.components.v2.component("copy_messages", js=_JS)


def copy_buttons(turns: Iterable[Turn], key: str) -> None:
    """Copy buttons for these messages' rows; drawn in a hidden container ("copies_<key>")."""
    texts = {turn.id: turn.content for turn in turns}
    if not texts:
        return
    with st.container(key=f"copies_{key}"):
        _copy(key=f"copy_{key}", data={"texts": texts, "label": t("chat.copy"), "done": t("chat.copied")})
