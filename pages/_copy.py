"""The copy button of a message: its Markdown source to the clipboard, in the browser.

A Components v2 component (Streamlit has no clipboard API, and ``st.code``'s copy button would
draw every message a second time): its HTML, CSS and JS are ours and fixed; the message travels
only in ``data``, and the script hands it to ``navigator.clipboard.writeText`` as text, never
as markup. No event goes back to the server: a copy reruns nothing.
"""

from __future__ import annotations

import streamlit as st

from chatbot.i18n import t

_HTML = (
    '<button type="button"><svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">'
    '<path fill="currentColor" d="M9 18q-.82 0-1.41-.59T7 16V4q0-.82.59-1.41T9 2h9q.82 0 1.41.59T20 4v12q0 '
    '.82-.59 1.41T18 18zm0-2h9V4H9zm-4 6q-.82 0-1.41-.59T3 20V6h2v14h11v2zm4-6V4z"/></svg></button>'
)
_CSS = """
button { background: none; border: none; color: inherit; opacity: .7; cursor: pointer; padding: 4px;
         border-radius: .5rem; display: flex; align-items: center; }
button:hover, button:focus-visible { opacity: 1; background: rgba(128, 128, 128, .15); }
button.done { color: #21a366; opacity: 1; }
"""
# Handlers assigned, not added: the script runs again whenever ``data`` changes.
_JS = """
export default function ({ parentElement, data }) {
  const button = parentElement.querySelector("button");
  button.setAttribute("aria-label", data.label);
  button.title = data.label;
  button.onclick = async () => {
    try {
      await navigator.clipboard.writeText(data.text);
    } catch (error) {
      return;  // no clipboard here (not a secure page, or refused): nothing was copied
    }
    button.classList.add("done");
    button.title = data.done;
    button.setAttribute("aria-label", data.done);
    setTimeout(() => {
      button.classList.remove("done");
      button.title = data.label;
      button.setAttribute("aria-label", data.label);
    }, 1500);
  };
}
"""
_copy = st.components.v2.component("copy_message", html=_HTML, css=_CSS, js=_JS)


def copy_button(text: str, key: str) -> None:
    """A small button that copies ``text`` as it is (a message's Markdown source)."""
    _copy(key=key, data={"text": text, "label": t("chat.copy"), "done": t("chat.copied")}, width="content")
