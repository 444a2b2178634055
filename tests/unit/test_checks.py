"""Unit tests of the answer checks, citation re-assignment and the fallback sentence."""

from __future__ import annotations

import pytest

from model.checks import NO_ANSWER, check_answer, fallback_sentence, finalize, reassign_citations

EVIDENCE = {
    1: "Kismet -directed_by-> William Dieterle",
    2: "Kismet -starred_actors-> Marlene Dietrich",
    3: '"Dieterle was born in 1893 in Ludwigshafen." (wiki, William Dieterle)',
}
NAMES = ["Kismet", "William Dieterle", "Marlene Dietrich"]


def test_a_grounded_answer_passes() -> None:
    check = check_answer("The answer is William Dieterle [1].", EVIDENCE, NAMES)
    assert check.ok and check.cited == (1,) and check.problems == ()


def test_template_words_alone_are_not_claims() -> None:
    assert check_answer(NO_ANSWER, EVIDENCE, NAMES).ok
    assert check_answer("The Answer Is not known.", EVIDENCE, NAMES).ok


def test_a_hallucinated_name_is_caught_even_when_not_in_names() -> None:
    check = check_answer("The answer is Michael Curtiz [1].", EVIDENCE, NAMES)
    assert not check.ok
    assert check.problems == ("'Michael Curtiz' is not in the evidence it cites ([1])",)


def test_a_hallucinated_name_after_a_cited_clause_is_caught() -> None:
    check = check_answer("Kismet was directed by William Dieterle [1], born in Paris.", EVIDENCE, NAMES)
    assert check.problems == ("'Paris' is not in the evidence it cites ([1])",)


def test_a_sentence_opening_name_of_two_words_counts() -> None:
    assert not check_answer("Michael Curtiz directed Kismet [1].", EVIDENCE, NAMES).ok


def test_a_long_number_must_be_in_the_cited_evidence() -> None:
    assert not check_answer("He was born in 1893 [1].", EVIDENCE, NAMES).ok
    assert check_answer("He was born in 1893 [3].", EVIDENCE, NAMES).ok


def test_a_number_that_does_not_exist_is_reported() -> None:
    check = check_answer("The answer is William Dieterle [7].", EVIDENCE, NAMES)
    assert check.cited == (7,)
    assert "[7] is not in the evidence" in check.problems


def test_a_wrong_number_is_reported() -> None:
    check = check_answer("The answer is William Dieterle [2].", EVIDENCE, NAMES)
    assert check.problems == ("'William Dieterle' is not in the evidence it cites ([2])",)


def test_a_claim_without_a_citation_is_reported() -> None:
    check = check_answer("William Dieterle directed Kismet.", EVIDENCE, NAMES)
    assert check.problems == ("a claim without a citation: 'William Dieterle directed Kismet.'",)


def test_each_sentence_needs_its_own_citation() -> None:
    check = check_answer("Kismet starred Marlene Dietrich [2]. It was directed by William Dieterle.",
                         EVIDENCE, NAMES)
    assert [p.split(":")[0] for p in check.problems] == ["a claim without a citation"]


@pytest.mark.parametrize("text", [
    "The answers are William Dieterle [1] and Marlene Dietrich [2].",
    "The answers are William Dieterle and Marlene Dietrich [1, 2].",
    "The answers are William Dieterle and Marlene Dietrich [1][2].",
    "The answers are William Dieterle and Marlene Dietrich [1] [2].",
    "The answers are William Dieterle and Marlene Dietrich [1-2].",
    "The answers are William Dieterle and Marlene Dietrich [1,2].",
])
def test_citation_forms(text: str) -> None:
    check = check_answer(text, EVIDENCE, NAMES)
    assert check.ok, check.problems
    assert check.cited == (1, 2)


def test_a_citation_after_the_full_stop_belongs_to_its_sentence() -> None:
    assert check_answer("The answer is William Dieterle. [1]", EVIDENCE, NAMES).ok


def test_a_citation_that_supports_nothing_it_is_cited_for_is_reported() -> None:
    check = check_answer("The answer is William Dieterle [1, 2].", EVIDENCE, NAMES)
    assert check.problems == ("[2] does not contain what it is cited for",)


def test_names_match_whole_words_case_and_spacing_insensitively() -> None:
    assert check_answer("The answer is william   DIETERLE [1].", EVIDENCE, NAMES).ok
    evidence = {1: "Vampire -directed_by-> X"}
    assert not check_answer("The answer is Vamp [1].", evidence, ["Vamp"]).ok


def test_the_longest_name_wins() -> None:
    evidence = {1: "Kismet -directed_by-> William Dieterle", 2: "William -spouse-> Y"}
    check = check_answer("The answer is William Dieterle [1].", evidence, ["William", "William Dieterle"])
    assert check.ok


def test_unicode_names() -> None:
    evidence = {1: "Amélie -directed_by-> Jean-Pierre Jeunet", 2: "英雄 -directed_by-> 张艺谋"}
    names = ["Amélie", "Jean-Pierre Jeunet", "英雄", "张艺谋"]
    assert check_answer("The answer is Jean-Pierre Jeunet [1].", evidence, names).ok
    assert check_answer("英雄的导演是张艺谋[2]。", evidence, names).ok
    assert not check_answer("英雄的导演是张艺谋[1]。", evidence, names).ok
    decomposed = "The answer is Ame\u0301lie [1]."  # NFD spelling of the same name
    assert check_answer(decomposed, evidence, names).ok


def test_reassign_fixes_wrong_and_missing_numbers() -> None:
    assert reassign_citations("The answer is William Dieterle [2].", EVIDENCE, NAMES) == \
        "The answer is William Dieterle [1]."
    assert reassign_citations("The answer is William Dieterle [7].", EVIDENCE, NAMES) == \
        "The answer is William Dieterle [1]."
    assert reassign_citations("William Dieterle directed Kismet.", EVIDENCE, NAMES) == \
        "William Dieterle directed Kismet [1]."


def test_reassign_per_clause_and_merges_groups() -> None:
    text = "The answers are William Dieterle [2][7] and Marlene Dietrich [1]."
    fixed = reassign_citations(text, EVIDENCE, NAMES)
    assert fixed == "The answers are William Dieterle [1] and Marlene Dietrich [2]."
    assert check_answer(fixed, EVIDENCE, NAMES).ok


def test_reassign_prefers_the_written_number_among_equals() -> None:
    text = "The answer is William Dieterle [3]."
    assert reassign_citations(text, EVIDENCE, NAMES) == text


def test_reassign_cannot_ground_a_hallucination() -> None:
    text = "The answer is Michael Curtiz [1]."
    assert reassign_citations(text, EVIDENCE, NAMES) == text


def test_fallback_sentences() -> None:
    assert fallback_sentence([]) == NO_ANSWER
    assert fallback_sentence([("William Dieterle", [1])]) == "The answer is William Dieterle [1]."
    assert fallback_sentence([("A", [1]), ("B", [3, 2]), ("C", [4])]) == "The answers are A [1], B [2, 3] and C [4]."
    assert fallback_sentence([("A", [1]), ("B", [2])]) == "The answers are A [1] and B [2]."
    assert fallback_sentence([("A", [1]), ("B", [])]) == "The answer is A [1]."


def test_fallback_counts_and_cites_the_rest() -> None:
    answers = [(f"Movie {i}", [i]) for i in range(1, 8)]
    sentence = fallback_sentence(answers, max_answers=3)
    assert sentence == "The answers are Movie 1 [1], Movie 2 [2], Movie 3 [3] and 4 more [4, 5, 6, 7]."


def test_fallback_sentences_pass_the_checks() -> None:
    evidence = {i: f"X -directed-> Movie {i}" for i in range(1, 130)}
    answers = [(f"Movie {i}", [i]) for i in range(1, 130)]
    for shown in (answers[:1], answers[:3], answers):
        sentence = fallback_sentence(shown)
        assert check_answer(sentence, evidence, [a for a, _ in shown]).ok, sentence


def test_finalize_keeps_a_good_answer_with_reassigned_citations() -> None:
    final = finalize(" The answer is William Dieterle [2].", EVIDENCE, [("William Dieterle", [1])], NAMES)
    assert not final.fallback
    assert final.text == "The answer is William Dieterle [1]." and final.cited == (1,)
    assert final.generated == " The answer is William Dieterle [2]."


def test_finalize_falls_back_on_a_failed_check() -> None:
    final = finalize("The answer is Michael Curtiz [1].", EVIDENCE, [("William Dieterle", [1])], NAMES)
    assert final.fallback and final.text == "The answer is William Dieterle [1]." and final.cited == (1,)
    assert "'Michael Curtiz' is not in the evidence it cites ([1])" in final.problems


def test_finalize_falls_back_without_text_or_without_an_answer_named() -> None:
    answers = [("William Dieterle", [1])]
    for generated in (None, "", "  "):
        final = finalize(generated, EVIDENCE, answers, NAMES)
        assert final.fallback and final.text == "The answer is William Dieterle [1]."
    final = finalize("The answer is Marlene Dietrich [2].", EVIDENCE, answers, NAMES)
    assert final.fallback and final.problems == ("the text names none of the answers",)


def test_finalize_without_answers() -> None:
    final = finalize(None, EVIDENCE, [], NAMES)
    assert final.text == NO_ANSWER and final.cited == () and final.fallback
    assert not finalize(NO_ANSWER, EVIDENCE, [], NAMES).fallback


def test_finalize_falls_back_when_the_text_leaves_out_cited_answers() -> None:
    evidence = {1: "France <-borders- Andorra", 2: "France <-borders- Belgium", 3: "France <-borders- Spain"}
    answers = [("Andorra", [1]), ("Belgium", [2]), ("Spain", [3])]
    partial = finalize(" The answer is Belgium [2].", evidence, answers)
    assert partial.fallback and partial.problems == ("the text leaves out 2 of the top cited answers",)
    assert partial.text == "The answers are Andorra [1], Belgium [2] and Spain [3]."
    whole = finalize(" The answers are Andorra [1], Belgium [2] and Spain [3].", evidence, answers)
    assert not whole.fallback and whole.cited == (1, 2, 3)


def test_chinese_sentences_and_checks_on_chinese_text() -> None:
    from model.checks import fallback_sentence, finalize

    assert fallback_sentence([("波恩", [1])], chinese=True) == "答案是波恩 [1]。"
    assert fallback_sentence([("甲", [1]), ("乙", [2]), ("丙", [3])], max_answers=2, chinese=True) == \
        "答案有甲 [1]、乙 [2]和另外1个 [3]。"
    evidence = {1: "德國 -首都-> 波恩"}
    ok = finalize("德国的首都是波恩 [1]。", evidence, [("波恩", [1])], ["德國", "波恩"], chinese=True)
    assert not ok.fallback and ok.text == "德国的首都是波恩 [1]。"  # traditional evidence, simplified text
    bad = finalize("德国的首都是柏林。", evidence, [("波恩", [1])], ["德國", "波恩"], chinese=True)
    assert bad.fallback and bad.text == "答案是波恩 [1]。" and "the text names none of the answers" in bad.problems
