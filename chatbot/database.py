"""The services' one way to meet a database failure: as a ChatError the pages can explain.

A locked, read-only or damaged database raises SQLAlchemy errors deep inside any query; the
services wrap their public methods in ``database_errors`` so pages only ever catch
``ChatError`` (never ``SQLAlchemyError``) and never see SQL or parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any, TypeVar, cast

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chatbot.errors import database_error
from chatbot.store import db

F = TypeVar("F", bound=Callable[..., Any])


def database_errors(func: F) -> F:
    """Raise a database failure inside ``func`` as ``DatabaseUnavailable`` (a ChatError).

    Generator functions are wrapped too: their queries run while the caller iterates. The
    original exception is not chained (``from None``): its text holds SQL and parameters.
    """
    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def generator(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            try:
                return (yield from func(*args, **kwargs))
            except SQLAlchemyError as exc:
                raise database_error(exc) from None

        return cast(F, generator)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise database_error(exc) from None

    return cast(F, wrapper)


@database_errors
def open_sessions(url: str) -> sessionmaker[Session]:
    """A session factory for ``url``, its schema upgraded to the newest migration."""
    return db.open_database(url)[1]
