"""The span reader: typed spans, yes/no, either/or, spans checked against the cited passage."""

from __future__ import annotations

from kg.base import Passage
from retrieval.base import Evidence
from retrieval.mentions import rule_spans
from retrieval.reader import SpanReader, either_or, supported
from retrieval.retriever import whole


def _evidence(*items: tuple[str, str]) -> list[Evidence]:
    return [whole(Evidence(i, "passage", "", 0.0, passage=Passage(f"p{i}", text, title)))
            for i, (title, text) in enumerate(items, 1)]


READER = SpanReader(rule_spans)


def test_a_typed_span_is_read_and_cites_its_passage() -> None:
    evidence = _evidence(("Demon Dice", "Demon Dice is a dice game created by Lester Smith in 1990."),
                         ("Lester Smith", "Lester Smith is a game designer born in 1955 in Ohio."))
    best = READER.read("Who created Demon Dice?", evidence)[0]
    assert best.label == "Lester Smith" and best.evidence == (1,)
    year = READER.read("In what year was the designer Lester Smith born?", evidence)[0]
    assert year.label == "1955" and year.evidence == (2,)
    assert all(supported(a.label, evidence[a.evidence[0] - 1].content)
               for q in ("Who created Demon Dice?", "Where was Lester Smith born?") for a in READER.read(q, evidence))


def test_yes_no_cites_both_passages() -> None:
    evidence = _evidence(("Christopher Nolan", "Christopher Nolan is a British film director."),
                         ("Sathish Kalathil", "Sathish Kalathil is an Indian film director."))
    answer = READER.read("Are Christopher Nolan and Sathish Kalathil both film directors?", evidence)[0]
    assert answer.label == "yes" and answer.evidence == (1, 2)
    answer = READER.read("Are Christopher Nolan and Sathish Kalathil both painters?", evidence)[0]
    assert answer.label == "no"


def test_either_or_compares_years() -> None:
    assert either_or("Which band was formed first, The Exies or Circus Diablo?") == ("The Exies", "Circus Diablo")
    assert either_or("Who directed the film that was shot in or around Leland?") is None
    evidence = _evidence(("Circus Diablo", "Circus Diablo is a band formed in 2004."),
                         ("The Exies", "The Exies are a band formed in 1997 in Los Angeles."))
    first = READER.read("Which band was formed first, The Exies or Circus Diablo?", evidence)[0]
    later = READER.read("Which band was formed later, The Exies or Circus Diablo?", evidence)[0]
    assert first.label == "The Exies" and first.evidence == (1, 2)  # a comparison cites both passages
    assert later.label == "Circus Diablo"


def test_what_the_question_names_is_not_the_answer_and_descriptions_are_not_read() -> None:
    evidence = _evidence(("Kismet", "Kismet was directed by William Dieterle."))
    assert READER.read("Who directed Kismet?", evidence)[0].label == "William Dieterle"
    description = [Evidence(1, "passage", "France: country", 0.0, passage=Passage("e:ab:Q142", "France: country"))]
    assert READER.read("What is France?", description) == []


def test_supported_is_a_normalized_whole_word_match() -> None:
    assert supported("the Lester Smith", "created by Lester Smith.") and not supported("Smith", "Smithsonian")
