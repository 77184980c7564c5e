"""Markdown that never makes the browser fetch: message text, reasoning and values put into
translated sentences, as handed to Streamlit's Markdown renderer.

The only thing in Streamlit's renderer (react-markdown with GFM, math, directives; raw HTML
off) that loads a URL by itself is an image: ``![alt](url)``, ``![alt][ref]`` and ``![ref]``,
also inside links. Each needs ``!`` right before ``[``; a backslash before the ``!`` makes it
literal, so the image becomes ``!`` and a link labelled with its alt text (one click away).
KaTeX runs untrusted (no ``\\includegraphics``), ``:material/…:`` icons and ``:streamlit:``
come from the app's own files, links need a click.

Code must stay as written (a backslash in code is shown), so ``![`` is left alone where the
renderer is *sure* to see code, and escaped everywhere else; when in doubt, we escape: a stray
backslash in code is a blemish, a loaded image is a leak.

- Fenced code blocks: only fences at column 0. Before each, a blank line is put if there is
  none, which ends whatever block came before (paragraph, table, HTML, list, quote), so the
  renderer opens the fence there too; the closing line follows CommonMark exactly. Once a line
  could open a block that outlives a blank line (a fence not at column 0, e.g. in a list item;
  HTML, ``$$`` math, ``:::`` directives), no later fence is trusted.
- Code spans: only on one line without ``|`` (a table row splits cells first), with no
  backslash before the opening backticks, and nothing since the paragraph began that could
  start a link destination, autolink, HTML tag, math or directive (``](``, ``]:``, ``<``,
  ``$``, ``http:``, ``www.``, ``:name``), since those take the backticks first.

Streamlit strips and dedents what it draws (``clean_text``), so we do the same first: what we
return is exactly what the renderer parses.
"""

from __future__ import annotations

import re
import textwrap

_LINE_END = re.compile(r"\r\n|\r|\n")
_BLANK = re.compile(r"[ \t]*")
_OPEN_BACKTICKS = re.compile(r"(`{3,})([^`]*)")
_OPEN_TILDES = re.compile(r"(~{3,})(.*)", re.DOTALL)
# A line after which no fence is trusted: a fence anywhere but column 0 (in a list item,
# quote, indented, inline), or the start of HTML, display math or a directive container.
_UNTRUSTED = re.compile(r"`{3}|~{3}|^ {0,3}(?:<|\$\$|:::)")
# What the inline scan stops at: backtick runs, images, and the start of anything that could
# take a later backtick away from a code span: a link destination (``](``) or definition
# (``]:``), an autolink or HTML tag (``<``), math (``$``), a literal autolink (``http://``,
# ``mailto:``, ``www.``) or a directive with attributes (``:name{…}``).
_INLINE = re.compile(r"`+|!\[|<|\$|\]\(|\]:|:[a-z/]|www\.", re.IGNORECASE)


def _lines(text: str) -> list[tuple[str, str]]:
    """(line, its line ending) pairs; CommonMark ends lines at \\r\\n, \\r and \\n."""
    out: list[tuple[str, str]] = []
    position = 0
    for match in _LINE_END.finditer(text):
        out.append((text[position : match.start()], match.group()))
        position = match.end()
    out.append((text[position:], ""))
    return out


def _closes(line: str, fence: str) -> bool:
    """CommonMark's closing fence: up to 3 spaces, at least as many fence characters, then
    only spaces or tabs."""
    stripped = line[: len(line) - len(line.lstrip(" "))]
    if len(stripped) > 3:
        return False
    rest = line[len(stripped) :]
    run = len(rest) - len(rest.lstrip(fence[0]))
    return run >= len(fence) and rest[run:].strip(" \t") == ""


def _opens(line: str) -> str | None:
    """The fence a column-0 opening line opens (backticks: no backtick in the info string)."""
    match = _OPEN_BACKTICKS.fullmatch(line) or _OPEN_TILDES.fullmatch(line)
    return match.group(1) if match else None


def _escaped(line: str, index: int) -> bool:
    """Is the character at ``index`` backslash-escaped (an odd run of backslashes before it)?"""
    run = 0
    while index - run - 1 >= 0 and line[index - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _inline(line: str, dirty: bool) -> tuple[str, bool]:
    """One line outside code blocks: ``![`` escaped except inside a certain code span.
    ``dirty`` says whether something since the paragraph began could take backticks away."""
    out: list[str] = []
    position = 0
    tables_cells = "|" in line
    for match in _INLINE.finditer(line):
        start = match.start()
        if start < position:
            continue  # inside a code span taken whole below
        out.append(line[position:start])
        token = match.group()
        position = match.end()
        if token[0] == "`":
            if not dirty and not tables_cells and not (start and line[start - 1] == "\\"):
                closing = _closing_run(line, position, len(token))
                if closing is not None:
                    out.append(line[start:closing])
                    position = closing
                    continue
            out.append(token)
        elif token == "![":
            out.append("![" if _escaped(line, start) else "\\![")
        else:
            dirty = True
            out.append(token)
    out.append(line[position:])
    return "".join(out), dirty


def _closing_run(line: str, start: int, length: int) -> int | None:
    """Where the code span opened by ``length`` backticks ends (after its closing run)."""
    for match in re.finditer(r"`+", line[start:]):
        if len(match.group()) == length:
            return start + match.end()
    return None


def safe_markdown(text: str) -> str:
    """``text`` as Markdown that loads no image; otherwise drawn as before (see module doc)."""
    text = textwrap.dedent(text).strip()
    out: list[str] = []
    fence: str | None = None  # the trusted fenced code block we are in
    trust_fences = True
    dirty = False  # since the paragraph began (or at least since the last blank line)
    after_blank = True
    for line, end in _lines(text):
        if fence is not None:
            out.append(line + end)
            if _closes(line, fence):
                fence, dirty, after_blank = None, False, False
            continue
        if trust_fences and (opened := _opens(line)):
            if not after_blank:
                out.append("\n")
            out.append(line + end)
            fence, dirty, after_blank = opened, False, False
            continue
        if trust_fences and _UNTRUSTED.search(line):
            trust_fences = False
        if _BLANK.fullmatch(line):
            out.append(line + end)
            dirty, after_blank = False, True
            continue
        drawn, dirty = _inline(line, dirty)
        out.append(drawn + end)
        after_blank = False
    return "".join(out)


class StreamedText:
    """Text arriving in chunks, passed on so that what has been passed on so far never holds
    an image: ``feed`` returns the part to append now, ``flush`` the part held at the end.

    For ``st.write_stream``, which appends chunks and draws the text so far (closing a
    half-typed ``**bold`` as it goes). Every ``![`` becomes ``!\\[`` and a trailing ``!`` waits
    for the next chunk, so no ``![`` ever appears in the appended text, not even across two
    chunks. Inside code this shows a stray backslash while streaming; the finished reply is
    drawn again with ``safe_markdown``, which leaves code as written.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._held = ""

    def feed(self, chunk: str) -> str:
        self._parts.append(chunk)
        text = self._held + chunk
        self._held = "!" if text.endswith("!") else ""
        return (text[:-1] if self._held else text).replace("![", "!\\[")

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    @property
    def received(self) -> str:
        """The text as received, not as passed on."""
        if len(self._parts) > 1:
            self._parts = ["".join(self._parts)]
        return self._parts[0] if self._parts else ""


# ----------------------------------------------------------------- values in sentences

# Punctuation that means something anywhere in one line of Markdown (GFM, math, Streamlit's
# directives) once [ and ] are escaped; - + . ) # = only at the start of a line, where a value
# may land; the rest (! ( ) | ? / ...) means nothing on its own.
_PUNCTUATION = re.compile(r"([$&*<>\[\\\]_`~])")
_LINE_START = re.compile(r"^(\s*)(\d+(?=[.)])|[-+#=])")
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]")
_WORD_JOINER = "\u2060"
# Read by GFM's autolinking and Streamlit's shortcodes in the *text* after escapes are undone
# (http://…, www.…, a@b.c, :smile:, :material/…:, :streamlit:), so a backslash cannot stop
# them: an invisible word joiner breaks the pattern instead.
_LINK_OR_SHORTCODE = re.compile(r"(?<=:)(?=[\w+/-])|(?<=www)(?=\.)|(?=@)", re.IGNORECASE)


def escape_markdown(value: str) -> str:
    """A value (title, model name, query, error detail) as Markdown that shows it as written,
    inline: no image, link, autolink, emphasis, code, math, directive, icon or line break."""
    value = _LINE_BREAKS.sub(" ", value)
    value = _LINK_OR_SHORTCODE.sub(_WORD_JOINER, value)
    value = _PUNCTUATION.sub(r"\\\1", value)
    number = _LINE_START.match(value)
    if number and number.group(2)[0].isdigit():  # "1. " or "1) " opens a list: escape its dot
        end = number.end()
        return value[:end] + "\\" + value[end:]
    return _LINE_START.sub(r"\1\\\2", value, count=1)
