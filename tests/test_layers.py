"""The layers stay apart: the core (chatbot/) never imports Streamlit, and the pages reach the
database only through the core's services (no chatbot.store module, no SQLAlchemy error caught),
so a storage change never needs a page changed and every database failure is a ChatError."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def page_files() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]


def test_the_core_never_imports_streamlit() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if m.split(".")[0] == "streamlit")
        for path in sorted((ROOT / "chatbot").rglob("*.py"))
    }
    assert {p: m for p, m in offenders.items() if m} == {}


def test_pages_reach_the_database_only_through_the_core() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.startswith(("chatbot.store", "sqlalchemy.exc"))
        )
        for path in page_files()
    }
    assert {p: m for p, m in offenders.items() if m} == {}
    assert len(offenders) > 10  # the pages were found
