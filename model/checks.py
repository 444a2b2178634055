"""Checks on a generated answer's citations, citation re-assignment, and the rule-built fallback.

A generated answer passes ``check_answer`` when every ``[n]`` it writes is a piece of the
numbered evidence, every sentence that names an entity carries a citation, and every entity it
names appears in the text of the evidence it cites. An entity is any of the given ``names``
(entity labels, found case-insensitively, longest first) plus what looks like a proper noun and
is not covered by them: a run of capitalised words (a single capitalised word opening a sentence
is not counted, nor are template words like "The" or "Answer") or a number of three or more
digits. So a name the model made up is caught even when nobody told the checker about it.

Each entity is governed by the first citation after it in its sentence (or, when none follows,
the last one before it). ``reassign_citations`` rewrites those citations from the evidence
texts, because the numbers a small model writes are unreliable (see DESIGN); ``finalize`` chains
re-assignment, the check and the fallback sentence. Matching is by text containment only: this
module does not judge whether an answer is right, only whether it is grounded and cited.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from model.chinese import fold

NO_ANSWER = "The evidence does not answer this question."
NO_ANSWER_ZH = "证据不能回答这个问题。"
MAX_RANGE = 50  # "[2-5]" expands; a wider range is read as its two ends
_ITEM = r"\d+(?:\s*[-–]\s*\d+)?"
_GROUP = re.compile(rf"\[\s*{_ITEM}(?:\s*[,;]\s*{_ITEM})*\s*\]")
_WORD = re.compile(r"(?<![\w'’-])[^\W\d_][\w'’-]*")
_NUMBER = re.compile(r"(?<![\w.,])\d[\d,.]*\d(?![\w])(?!\s+(?:more|others)\b)")
_BOUNDARY = re.compile(r"[.!?](?=\s|$)|[。！？]|\n")  # Chinese full stops need no space after them
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
TEMPLATE_WORDS = frozenset("""
a an and answer answers are as both but evidence for from he her his i in is it its no none not of
on or question she so that the their there these they this those to was we were what when where
which who yes also according based however unknown
""".split())


@dataclass(frozen=True)
class Check:
    """The verdict on one text: ``ok`` when ``problems`` is empty."""

    ok: bool
    cited: tuple[int, ...]  # evidence numbers the text cites, in order of first use, unique
    problems: tuple[str, ...]


@dataclass(frozen=True)
class FinalAnswer:
    """The sentence to show: the checked generated text, or the rule-built fallback."""

    text: str
    cited: tuple[int, ...]
    fallback: bool  # the generated text failed the checks (or there was none)
    problems: tuple[str, ...]  # why the generated text was not used (empty when it was)
    generated: str | None  # the raw generated text, for inspection


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Cite:
    start: int
    end: int
    numbers: tuple[int, ...]


@dataclass(frozen=True)
class _Claim:
    """The entities governed by one citation, or by none (``cite`` None, ``at``: where one belongs)."""

    cite: _Cite | None
    mentions: tuple[_Span, ...]
    sentence: str
    at: int


def _nfc(text: str) -> str:
    """NFC, with traditional Chinese folded to simplified (same length), so 波恩 matches 波恩 in either script."""
    return fold(unicodedata.normalize("NFC", text))


def _spaced(char: str) -> bool:
    """A word character of a script that separates words by spaces (not Chinese or Japanese)."""
    return (char.isalnum() or char == "_") and not _CJK.match(char)


def _phrase(surface: str) -> str:
    """A regex for ``surface`` with any whitespace between its words and word edges where they apply."""
    tokens = surface.split()
    body = r"\s+".join(re.escape(t) for t in tokens)
    left = r"(?<!\w)" if _spaced(tokens[0][0]) else ""
    right = r"(?!\w)" if _spaced(tokens[-1][-1]) else ""
    return f"{left}{body}{right}"


@lru_cache(maxsize=4096)
def _surface_pattern(surface: str) -> re.Pattern[str]:
    return re.compile(_phrase(surface), re.IGNORECASE)


def _contains(text: str, surface: str) -> bool:
    """``surface`` occurs in ``text`` as whole words, ignoring case and whitespace differences."""
    return _surface_pattern(" ".join(_nfc(surface).split())).search(_nfc(text)) is not None


def _names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """One alternation over the usable names, longest first (so the longest match wins)."""
    usable = {" ".join(_nfc(n).split()) for n in names}
    usable = {n for n in usable if len(n) > 1 and n.casefold() not in TEMPLATE_WORDS}
    if not usable:
        return None
    ordered = sorted(usable, key=lambda n: (-len(n), n))
    return re.compile("|".join(_phrase(n) for n in ordered), re.IGNORECASE)


def _numbers(group: str) -> list[int]:
    out: list[int] = []
    for item in re.findall(_ITEM, group):
        ends = [int(x) for x in re.split(r"\s*[-–]\s*", item)]
        if len(ends) == 2 and 0 <= ends[1] - ends[0] <= MAX_RANGE:
            out += range(ends[0], ends[1] + 1)
        else:
            out += ends
    return out


def _cites(text: str) -> list[_Cite]:
    """Citation groups, with adjacent groups (``[1][2]``, ``[1] [2]``) merged into one."""
    cites: list[_Cite] = []
    for m in _GROUP.finditer(text):
        numbers = tuple(_numbers(m.group()))
        if cites and not text[cites[-1].end:m.start()].strip():
            last = cites.pop()
            cites.append(_Cite(last.start, m.end(), last.numbers + numbers))
        else:
            cites.append(_Cite(m.start(), m.end(), numbers))
    return cites


def _mask(text: str, spans: Iterable[_Cite | _Span]) -> str:
    """``text`` with each span blanked out, keeping every offset."""
    chars = list(text)
    for span in spans:
        chars[span.start:span.end] = " " * (span.end - span.start)
    return "".join(chars)


def _sentences(plain: str, cites: Sequence[_Cite], names: Sequence[_Span]) -> list[tuple[int, int]]:
    """Sentence spans; a citation right after a full stop belongs to the sentence before it."""
    ends: list[int] = []
    for m in _BOUNDARY.finditer(plain):
        end = m.end()
        if any(n.start < end <= n.end for n in names) or re.search(r"(?<!\w)\w\.$", plain[:end]):
            continue  # a full stop inside a name ("Dr. No") or after an initial ("J. Smith")
        after = next((c for c in cites if c.start >= end and not plain[end:c.start].strip()), None)
        ends.append(after.end if after else end)
    spans, start = [], 0
    for end in [*ends, len(plain)]:
        if end > start and plain[start:end].strip():
            spans.append((start, end))
        start = max(start, end)
    return spans


def _proper_nouns(plain: str, start: int, end: int) -> list[_Span]:
    """Capitalised-word runs and long numbers in ``plain[start:end]`` (names already blanked)."""
    words = [m for m in _WORD.finditer(plain, start, end)]
    first = words[0].start() if words else -1
    runs: list[list[re.Match[str]]] = []
    for m in words:
        if not m.group()[0].isupper() or m.group().casefold() in TEMPLATE_WORDS:
            continue
        if runs and not plain[runs[-1][-1].end():m.start()].strip(" \t"):
            runs[-1].append(m)
        else:
            runs.append([m])
    spans = [_Span(r[0].start(), r[-1].end(), plain[r[0].start():r[-1].end()]) for r in runs
             if not (len(r) == 1 and r[0].start() == first)]
    numbers = [_Span(m.start(), m.end(), m.group()) for m in _NUMBER.finditer(plain, start, end)
               if sum(c.isdigit() for c in m.group()) >= 3]
    return spans + numbers


def _insertion_point(text: str, start: int, end: int) -> int:
    """Where a citation goes in a sentence: before its final punctuation."""
    end = start + len(text[start:end].rstrip())
    return end - 1 if end > start and text[end - 1] in ".!?。！？" else end


def _sentence_claims(text: str, span: tuple[int, int], mentions: list[_Span], cites: list[_Cite]) -> list[_Claim]:
    """Attribute each mention to the first citation after it in the sentence, else the last before it."""
    start, end = span
    inside = [c for c in cites if start <= c.start < end]
    sentence = " ".join(_mask(text, inside)[start:end].split())
    if not inside:
        return [_Claim(None, tuple(mentions), sentence, _insertion_point(text, start, end))] if mentions else []
    owned: dict[int, list[_Span]] = {i: [] for i in range(len(inside))}
    for mention in mentions:
        after = [i for i, c in enumerate(inside) if c.start >= mention.end]
        owned[after[0] if after else len(inside) - 1].append(mention)
    return [_Claim(c, tuple(owned[i]), sentence, c.start) for i, c in enumerate(inside)]


def _parse(text: str, names: Iterable[str]) -> tuple[list[_Cite], list[_Claim]]:
    """The citations of ``text`` and the claims (mentions per citation) of each sentence."""
    cites = _cites(text)
    plain = _mask(text, cites)
    pattern = _names_pattern(names)
    named = [_Span(m.start(), m.end(), m.group()) for m in pattern.finditer(plain)] if pattern else []
    unnamed = _mask(plain, named)
    claims: list[_Claim] = []
    for start, end in _sentences(plain, cites, named):
        mentions = [n for n in named if start <= n.start < end] + _proper_nouns(unnamed, start, end)
        mentions.sort(key=lambda s: s.start)
        claims += _sentence_claims(text, (start, end), mentions, cites)
    return cites, claims


def _unique(items: Iterable[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(items))


def format_citation(numbers: Iterable[int]) -> str:
    """``[1]``, ``[2, 3]``."""
    return "[" + ", ".join(str(n) for n in numbers) + "]"


def _claim_problems(claim: _Claim, evidence: Mapping[int, str]) -> list[str]:
    if claim.cite is None:
        return [f"a claim without a citation: '{claim.sentence}'"]
    valid = [n for n in claim.cite.numbers if n in evidence]
    problems = [f"'{m.text}' is not in the evidence it cites ({format_citation(claim.cite.numbers)})"
                for m in claim.mentions if not any(_contains(evidence[n], m.text) for n in valid)]
    if claim.mentions and not problems:
        problems += [f"[{n}] does not contain what it is cited for" for n in _unique(valid)
                     if not any(_contains(evidence[n], m.text) for m in claim.mentions)]
    return problems


def check_answer(text: str, evidence: Mapping[int, str], names: Iterable[str] = ()) -> Check:
    """Check that ``text`` cites existing evidence and names only entities found in what it cites.

    Args:
        text: the generated answer.
        evidence: evidence number -> its text as shown in the prompt.
        names: entity labels to recognise (those of the evidence's nodes and of the answers).

    Returns:
        A ``Check``; its problems read like ``"[7] is not in the evidence"``,
        ``"'Paris' is not in the evidence it cites ([2])"``, ``"a claim without a citation: '...'"``.
    """
    text = _nfc(text)
    cites, claims = _parse(text, names)
    cited = _unique(n for c in cites for n in c.numbers)
    problems = [f"[{n}] is not in the evidence" for n in cited if n not in evidence]
    for claim in claims:
        problems += _claim_problems(claim, evidence)
    unique = tuple(dict.fromkeys(problems))
    return Check(not unique, cited, unique)


def _reassigned(claim: _Claim, evidence: Mapping[int, str]) -> tuple[int, ...]:
    """The fewest evidence items containing the claim's entities, preferring the ones it cited.

    A claim naming nothing, or nothing found in any evidence, keeps its numbers (the check then
    reports them).
    """
    written = claim.cite.numbers if claim.cite else ()
    support = {m.text.casefold(): {n for n, t in evidence.items() if _contains(t, m.text)} for m in claim.mentions}
    uncovered = {m for m, items in support.items() if items}
    chosen: list[int] = []
    while uncovered:
        best = min(evidence, key=lambda n: (-sum(n in support[m] for m in uncovered), n not in written, n))
        chosen.append(best)
        uncovered = {m for m in uncovered if best not in support[m]}
    return tuple(sorted(chosen)) if chosen else written


def reassign_citations(text: str, evidence: Mapping[int, str], names: Iterable[str] = ()) -> str:
    """Rewrite each citation as the evidence items whose text contains the entities it governs.

    A sentence that names entities but cites nothing gets a citation before its final
    punctuation. Adjacent groups are merged and written as ``[1, 2]``.

    Args:
        text: the generated answer.
        evidence: evidence number -> its text as shown in the prompt.
        names: entity labels to recognise.

    Returns:
        The text with re-assigned citations (unchanged where nothing could be improved).
    """
    text = _nfc(text)
    edits: list[tuple[int, int, str]] = []
    for claim in _parse(text, names)[1]:
        numbers = _reassigned(claim, evidence)
        if claim.cite is None:
            if numbers:
                edits.append((claim.at, claim.at, " " + format_citation(numbers)))
        elif numbers != claim.cite.numbers:
            edits.append((claim.cite.start, claim.cite.end, format_citation(numbers)))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def fallback_sentence(answers: Sequence[tuple[str, Sequence[int]]], max_answers: int = 5,
                      chinese: bool = False) -> str:
    """A deterministic sentence naming the answers, each with its citation.

    ``"The answer is William Dieterle [1]."``, ``"The answers are A [1], B [2, 3] and C [4]."``;
    past ``max_answers`` the rest are counted and cited together (``"... and 7 more [6, 8]."``).
    With ``chinese``: ``"答案是波恩 [1]。"``, ``"答案有A [1]、B [2]和C [4]。"``, ``"……和另外7个 [6, 8]。"``.
    Answers without evidence are left out: no claim without a citation.

    Args:
        answers: (answer label, evidence numbers supporting it), best first.
        max_answers: how many answers to name.
        chinese: write the sentence in Chinese (for a question in Chinese).

    Returns:
        The sentence; ``NO_ANSWER`` (``NO_ANSWER_ZH``) when no answer has evidence.
    """
    cited = [(" ".join(label.split()), sorted(set(numbers))) for label, numbers in answers if numbers]
    if not cited:
        return NO_ANSWER_ZH if chinese else NO_ANSWER
    shown = [f"{label} {format_citation(numbers)}" for label, numbers in cited[:max(1, max_answers)]]
    rest = cited[len(shown):]
    if rest:
        numbers = sorted({n for _, ns in rest for n in ns})
        shown.append(f"另外{len(rest)}个 {format_citation(numbers)}" if chinese
                     else f"{len(rest)} more {format_citation(numbers)}")
    if chinese:
        listed = shown[0] if len(shown) == 1 else "、".join(shown[:-1]) + "和" + shown[-1]
        return f"答案{'是' if len(cited) == 1 else '有'}{listed}。"
    verb = "answer is" if len(cited) == 1 else "answers are"
    return f"The {verb} {_join(shown)}."


COMPLETE = 5  # the answers with evidence a generated text must all name (as the fallback does)


def finalize(generated: str | None, evidence: Mapping[int, str], answers: Sequence[tuple[str, Sequence[int]]],
             names: Iterable[str] = (), chinese: bool = False) -> FinalAnswer:
    """The generated text with re-assigned citations when it passes the checks, else the fallback.

    Besides ``check_answer``'s problems, a text that names none of ``answers`` (when there are
    some) falls back, so the sentence never contradicts the ranked answers; so does one that
    leaves out any of the first ``COMPLETE`` answers with evidence ("The answer is Belgium" when
    nine countries border France is true but misleading).

    Args:
        generated: the generator's raw output, or None when there was none.
        evidence: evidence number -> its text as shown in the prompt.
        answers: (answer label, evidence numbers supporting it), best first.
        names: entity labels to recognise; the answer labels are added.
        chinese: the fallback sentence is written in Chinese.

    Returns:
        A ``FinalAnswer``.
    """
    labels = [label for label, _ in answers]
    known = [*names, *labels]
    problems: tuple[str, ...] = ("nothing was generated",)
    if generated is not None and generated.strip():
        text = reassign_citations(" ".join(generated.split()), evidence, known)
        check = check_answer(text, evidence, known)
        problems = check.problems
        plain = _mask(text, _cites(text))
        if answers and not any(_contains(plain, label) for label in labels if label.strip()):
            problems += ("the text names none of the answers",)
        else:
            left_out = [label for label, numbers in answers[:COMPLETE] if numbers and not _contains(plain, label)]
            if left_out:
                problems += (f"the text leaves out {len(left_out)} of the top cited answers",)
        if not problems:
            return FinalAnswer(text, check.cited, False, (), generated)
    sentence = fallback_sentence(answers, chinese=chinese)
    cited = _unique(n for c in _cites(sentence) for n in c.numbers)
    return FinalAnswer(sentence, cited, True, problems, generated)
