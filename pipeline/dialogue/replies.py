"""What the assistant says to messages that are not questions about the knowledge base.

Pure functions of the intent, the language of the message and (for help) an overview of the
knowledge base: its sources, counts, and a few (entity, relation) facts that example questions
are written from. Nothing here reads the store; ``KGQA.overview`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

EN = {"greeting": "Hello! Ask me a question about the knowledge base, or ask what I can do.",
      "thanks": "You're welcome. Ask another question whenever you like.",
      "goodbye": "Goodbye!",
      "chit-chat": "I'm a question-answering assistant for this knowledge base, so I can't chat much; "
                   "ask me about what it holds (\"what can you do?\" shows examples).",
      "off-topic": "Sorry, that is outside what I know: I only answer from this knowledge base. "
                   "Ask \"what can you do?\" to see what it holds.",
      "feedback-good": "Thanks, I noted that the answer was right.",
      "feedback-bad": "Thanks, I noted that the answer was wrong.",
      "feedback-none": "Thanks. There is no earlier answer to attach that feedback to."}
ZH = {"greeting": "你好！请问关于知识库的问题，或者问我能做什么。",
      "thanks": "不客气。欢迎继续提问。",
      "goodbye": "再见！",
      "chit-chat": "我是这个知识库的问答助手，不太会闲聊；请问知识库里的内容（问“你能做什么？”可以看到例子）。",
      "off-topic": "抱歉，这超出了我所知道的范围：我只根据这个知识库回答。问“你能做什么？”可以看到它的内容。",
      "feedback-good": "谢谢，我记下了这个答案是对的。",
      "feedback-bad": "谢谢，我记下了这个答案是错的。",
      "feedback-none": "谢谢。之前没有可以记录反馈的答案。"}


def reply(intent: str, chinese: bool = False) -> str:
    """The fixed reply to a social intent (greeting, thanks, goodbye, chit-chat, off-topic, feedback-*)."""
    return (ZH if chinese else EN)[intent]


def feedback_reply(correct: bool, corrected: str | None, chinese: bool = False) -> str:
    text = reply("feedback-good" if correct else "feedback-bad", chinese)
    if corrected:
        text += f"（正确答案：{corrected}）" if chinese else f" (the right answer: {corrected})"
    return text


def help_text(overview: Mapping[str, object], chinese: bool = False) -> str:
    """What the knowledge base holds and example questions drawn from it."""
    sources = ", ".join(str(s) for s in _list(overview.get("source_names"))) or "none"
    counts = (overview.get("entities", 0), overview.get("triples", 0), overview.get("relations", 0))
    examples = [_example(str(e), str(r), chinese) for e, r in _pairs(overview.get("facts"))]
    if chinese:
        lines = [f"我根据知识库回答问题，并给出引用的证据。知识库来源：{sources}；"
                 f"{counts[0]} 个实体，{counts[1]} 条三元组，{counts[2]} 种关系。",
                 "可以追问（“那它的……呢？”），也可以说“不对，是……”来纠正我。"]
        return "\n".join(lines + (["例如："] + [f"  {x}" for x in examples] if examples else []))
    lines = [f"I answer questions from this knowledge base and cite the evidence. Sources: {sources}; "
             f"{counts[0]} entities, {counts[1]} triples, {counts[2]} relations.",
             "Follow-ups work (\"and who wrote it?\", \"what about ...?\", \"that director\"), and you can "
             "correct me (\"that's wrong, it was ...\")."]
    return "\n".join(lines + (["For example:"] + [f"  {x}" for x in examples] if examples else []))


def _example(entity: str, relation: str, chinese: bool) -> str:
    if chinese:
        return f"{entity}的{relation}是什么？"
    return f"{relation[:1].upper()}{relation[1:]} of {entity}?"


def _list(value: object) -> Sequence[object]:
    return value if isinstance(value, list | tuple) else ()


def _pairs(value: object) -> list[tuple[object, object]]:
    return [(p[0], p[1]) for p in _list(value) if isinstance(p, list | tuple) and len(p) == 2]
