"""LobeChat / LobeHub exports (Settings → Data → Export, or an assistant's ⋯ → Export): two shapes.

- The config file: ``{exportType, state{sessions, sessionGroups, topics, messages}, version}``,
  times in epoch milliseconds. A session is an assistant ``{id, meta{title, tags}, config{model,
  systemRole, params{temperature}}, group, pinned}``; a topic ``{id, title, sessionId, favorite,
  metadata{model}, createdAt, updatedAt}``; a message ``{id, role, content, createdAt, updatedAt,
  sessionId, topicId, parentId, error, extra{fromModel}, fromModel, reasoning{content}, tools,
  files, imageList}``.
- The database dump: ``{data{sessions, topics, messages, agents, agentsToSessions,
  sessionGroups, ...}, mode, schemaHash}``, times as ISO strings, the model on the message
  (``model``) and the assistant's model and system role in ``agents``.

A topic becomes a conversation, titled as the topic; the messages of a session outside any topic
(its default topic) become one conversation, titled as the session. The assistant's system role
is the conversation's system prompt, its group and tags its tags, a favourite topic is pinned.
Threads follow ``parentId``; the newest message's branch is the current one. Tool and function
messages, and answers that only call tools, are left out as tool calls.
"""

from __future__ import annotations

from typing import Any

from chatbot.importing.common import (
    UNREADABLE,
    Collector,
    Source,
    SourceBatch,
    Turn,
    as_dict,
    as_list,
    clean_tags,
    ident,
    iso,
    model_of,
    temperature,
    text_of,
    title_of,
)

SOURCE = "lobechat"
LOADING = "..."  # LobeChat's placeholder for an answer still being written


def _tables(value: Any) -> dict[str, Any] | None:
    """The tables of either shape (``state`` or ``data``), or None for anything else."""
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("exportType"), str) and isinstance(value.get("state"), dict):
        tables: dict[str, Any] = value["state"]
        return tables
    data = value.get("data")
    if isinstance(data, dict) and isinstance(data.get("messages"), list) and ("schemaHash" in value or "mode" in value):
        return data
    return None


def looks_like_lobechat(value: Any) -> bool:
    return _tables(value) is not None


def _turn(message: dict[str, Any], position: int, collector: Collector) -> Turn:
    message_id = ident(message.get("id")) or f"#{position}"
    parent = ident(message.get("parentId"))
    created = iso(message.get("createdAt"))
    role = message.get("role")
    if role == "system":
        return Turn(message_id, parent, "user", None, "system", created)
    if role in ("tool", "function"):
        return Turn(message_id, parent, "user", None, "tool", created)
    if role not in ("user", "assistant"):
        return Turn(message_id, parent, "user", None, "other", created)
    text = text_of(message.get("content"))
    failed = role == "assistant" and bool(message.get("error"))
    tools = len(as_list(message.get("tools"))) if role == "assistant" else 0
    files = len(as_list(message.get("files"))) + len(as_list(message.get("imageList")))
    if failed and (not text.strip() or text == LOADING):
        return Turn(message_id, parent, role, None, "error", created)
    if not text.strip() or text == LOADING:
        return Turn(message_id, parent, role, None, "tool" if tools else "non_text" if files else "empty", created)
    collector.left_out("tool", tools)
    collector.batch.parts_dropped += files
    extra = as_dict(message.get("extra"))
    reasoning = message.get("reasoning")
    return Turn(
        message_id,
        parent,
        role,
        text,
        created=created,
        updated=iso(message.get("updatedAt")),
        model=model_of(message.get("model"), extra.get("fromModel"), message.get("fromModel"))
        if role == "assistant"
        else None,
        reasoning=text_of(as_dict(reasoning).get("content") if isinstance(reasoning, dict) else reasoning) or None,
        status="stopped" if failed else "complete",
    )


def parse(documents: list[Any]) -> SourceBatch:
    collector = Collector(SOURCE)
    for document in documents:
        tables = _tables(document) or {}
        _document(tables, collector)
    return collector.batch


def _document(tables: dict[str, Any], collector: Collector) -> None:
    sessions = {ident(s.get("id")): s for s in map(as_dict, as_list(tables.get("sessions"))) if ident(s.get("id"))}
    groups = {ident(g.get("id")): g for g in map(as_dict, as_list(tables.get("sessionGroups"))) if ident(g.get("id"))}
    agents = {ident(a.get("id")): a for a in map(as_dict, as_list(tables.get("agents"))) if ident(a.get("id"))}
    agent_of = {
        ident(link.get("sessionId")): agents.get(ident(link.get("agentId")))
        for link in map(as_dict, as_list(tables.get("agentsToSessions")))
    }
    topics = {ident(t.get("id")): t for t in map(as_dict, as_list(tables.get("topics"))) if ident(t.get("id"))}
    if not isinstance(tables.get("messages", []), list) or not isinstance(tables.get("topics", []), list):
        collector.skip("", UNREADABLE)  # the tables are there, but not as tables
        return
    topic_session: dict[str, str] = {}
    # Messages by conversation: (session, topic); a topic's own session wins over the message's.
    threads: dict[tuple[str | None, str | None], list[Turn]] = {key: [] for key in ((None, t) for t in topics)}
    for position, message in enumerate(as_list(tables.get("messages"))):
        if not isinstance(message, dict):
            collector.left_out("other")
            continue
        in_topic = ident(message.get("topicId"))
        in_session = ident(message.get("sessionId"))
        if in_topic and in_session:
            topic_session.setdefault(in_topic, in_session)
        key = (None, in_topic) if in_topic else (in_session, None)
        threads.setdefault(key, []).append(_turn(message, position, collector))
    for (session_id, topic_id), turns in threads.items():
        topic = as_dict(topics.get(topic_id))
        if topic_id is not None:
            session_id = ident(topic.get("sessionId")) or topic_session.get(topic_id)
        session = as_dict(sessions.get(session_id))
        meta = as_dict(session.get("meta"))
        config = as_dict(session.get("config"))
        agent = as_dict(agent_of.get(session_id))
        session_title = title_of(meta.get("title"), session.get("title"), agent.get("title"))
        title = title_of(topic.get("title")) if topic_id else session_title
        if topic_id is None and session_id is None and not session_title:
            title = ""  # the inbox's messages outside any topic
        group = as_dict(groups.get(ident(session.get("group")) or ident(session.get("groupId"))))
        params = as_dict(config.get("params")) or as_dict(agent.get("params"))
        collector.add(
            Source(
                f"topic:{topic_id}" if topic_id else f"session:{session_id or 'inbox'}",
                title,
                turns,
                created=iso(topic.get("createdAt")) if topic_id else None,
                updated=iso(topic.get("updatedAt")) if topic_id else None,
                model=model_of(as_dict(topic.get("metadata")).get("model"), config.get("model"), agent.get("model"))
                or "",
                system_prompt=text_of(config.get("systemRole") or agent.get("systemRole")) or None,
                params=temperature(params.get("temperature")),
                tags=clean_tags(
                    [
                        *([session_title] if topic_id and session_title else []),
                        group.get("name"),
                        *as_list(meta.get("tags")),
                    ]
                ),
                pinned=topic.get("favorite") is True,
            )
        )
