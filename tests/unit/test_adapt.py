"""``kgqa adapt`` and its pieces: synthetic questions, the scorer head, ``auto``'s choice, KB rules.

Offline and fast: the hashing embedder stands in for MiniLM, and the knowledge bases are tiny.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kg.errors import KGQAError
from kg.kb import KnowledgeBase
from kg.stores.base import Step
from model.embedders import HashingEmbedder
from model.head_scorer import HEAD_FILE, HeadConfig, HeadPathScorer, train_head
from model.path_scorer import PathExample
from model.prompts import LEGACY_VERBALIZATION, VERBALIZATION, check_card, verbalize
from model.registry import SHIPPED_SCORER, auto_adapter, kb_fingerprint, read_history, trained_for
from model.scorer import HOP_PENALTY, ZeroShotPathScorer
from pipeline.cli import main
from pipeline.training.adapt import AdaptConfig, adapt, split_topics
from pipeline.training.supervision import SupervisionGraph
from pipeline.training.synthetic import QuestionMaker, answer_types, word
from retrieval.paths import TOPIC_EXCLUDED, PathConfig, PathRetriever

CLUBS = "".join(f"player {i}|plays_in_club|club {i % 4}\nclub {i % 4}|based_in_city|city {i % 2}\n"
                f"player {i}|born_in_year|{1980 + i}\n" for i in range(24))


def _kb(tmp_path: Path, text: str, name: str = "kb") -> Path:
    source = tmp_path / f"{name}.txt"
    source.write_text(text)
    with KnowledgeBase.open(tmp_path / name, progress=False) as kb:
        kb.index(source)
    return tmp_path / name


def _graph(kb_dir: Path) -> SupervisionGraph:
    with KnowledgeBase.open(kb_dir, read_only=True, progress=False) as kb:
        return SupervisionGraph.read(kb.store)


def test_verbalization_forms_legacy_kept_and_inverse_worded() -> None:
    path = (Step("in_language"), Step("directed_by", False))
    assert verbalize(path, form=LEGACY_VERBALIZATION) == "directed by of in language"
    back = (Step("capital", False),)
    assert verbalize(back) == "capital of" and verbalize((Step("capital"),)) == "capital"
    assert verbalize((Step("capital", False), Step("capital"))) == "capital of capital of"
    with pytest.raises(KGQAError):
        verbalize(path, form="no-such-form")
    assert check_card({}, Path("."), "verbalization")  # a card without a version: the legacy form, still known
    assert ZeroShotPathScorer(HashingEmbedder()).verbalization == VERBALIZATION


def test_synthetic_questions_mask_the_topic_and_name_the_path(tmp_path: Path) -> None:
    graph = _graph(_kb(tmp_path, CLUBS))
    maker = QuestionMaker(graph, seed=1)
    made = maker.examples(60)
    assert len(made) >= 40
    for example, topic in made:
        assert topic not in example.question  # masked as at answer time
        assert example.positives and example.negatives
        assert not set(example.positives) & set(example.negatives)
    assert {len(p) for p in maker.chosen} == {1, 2, 3}  # hop counts balanced, not only one-hop paths
    kinds = answer_types(graph)
    assert kinds["born_in_year"] == "date" and kinds["plays_in_club"] == "entity"
    train, held = split_topics(made, 100)
    topic_of = {id(e): t for e, t in made}  # the split is by topic: no topic on both sides
    assert train and not {topic_of[id(e)] for e in train} & {topic_of[id(e)] for e in held}


def test_wording_uses_cleaned_relation_names() -> None:
    import random

    text = word("Ann", (Step("plays_in_club"), Step("based_in_city")), ["plays in club", "based in city"],
                "entity", random.Random(0))
    assert "plays in club" in text and "based in city" in text and "Ann" in text


def _examples() -> list[PathExample]:
    return [PathExample(f"which {a} is it", (a,), tuple(b for b in ("alpha", "beta", "gamma") if b != a))
            for a in ("alpha", "beta", "gamma") for _ in range(4)]


def test_identity_head_is_zero_shot_and_training_writes_a_loadable_head(tmp_path: Path) -> None:
    emb = HashingEmbedder()
    eye = np.eye(emb.dimension, dtype=np.float32)
    head = HeadPathScorer(emb, eye, eye, {})
    zero = ZeroShotPathScorer(emb)
    assert np.allclose(head.score("which beta", ["alpha", "beta"]), zero.score("which beta", ["alpha", "beta"]),
                       atol=1e-5)
    info = train_head(_examples(), _examples(), tmp_path / "head", emb, HeadConfig(steps=20, eval_every=10),
                      progress=False, card={"rules": {"topic_answers": TOPIC_EXCLUDED}})
    assert (tmp_path / "head" / HEAD_FILE).exists() and info["validation_path_accuracy"] >= 0.99
    loaded = HeadPathScorer.load(tmp_path / "head", emb)
    assert loaded.rules["topic_answers"] == TOPIC_EXCLUDED and loaded.hop_penalty == HOP_PENALTY  # the card records it
    assert not list(tmp_path.glob(".head*"))  # no temporary left


def test_shipped_adapter_only_for_the_kb_it_was_trained_on() -> None:
    card = json.loads((SHIPPED_SCORER / "card.json").read_text())
    metaqa = ["directed_by", "has_genre", "has_imdb_rating", "has_imdb_votes", "has_tags", "in_language",
              "release_year", "starred_actors", "written_by"]
    assert card["kb"]["relations_sha256"] == kb_fingerprint(metaqa)["relations_sha256"]
    assert trained_for(SHIPPED_SCORER, metaqa) and not trained_for(SHIPPED_SCORER, ["plays_in_club"])
    assert auto_adapter(None, "minilm", relations=metaqa) is not None
    assert auto_adapter(None, "minilm", relations=["plays_in_club"]) is None
    assert auto_adapter(None, "minilm") is None  # relations unknown: never a guess


def test_topic_rule_from_the_card_drops_walks_back_through_the_topic(tmp_path: Path) -> None:
    scorer = ZeroShotPathScorer(HashingEmbedder())
    retriever = PathRetriever(_graph(_kb(tmp_path, CLUBS)).paths, scorer)
    two = (Step("plays_in_club"), Step("plays_in_club", False))
    assert not retriever.excludes_topic(two)
    scorer.rules = {"topic_answers": TOPIC_EXCLUDED}
    assert retriever.excludes_topic(two) and not retriever.excludes_topic(two[:1])


def test_adapt_trains_judges_and_records_history(tmp_path: Path) -> None:
    kb = _kb(tmp_path, CLUBS)
    config = AdaptConfig(budget_minutes=2, examples=120, validation=40, replay=20,
                         train=HeadConfig(steps=30, eval_every=10))
    report = adapt(kb, config, embedder="hashing", progress=False)
    history = read_history(kb)
    assert history["runs"][-1]["kind"] == "adapt" and report.examples > 0
    assert (history["live"] == report.adapter) == report.promoted
    folder = kb / "learning" / report.adapter
    card = json.loads((folder / "card.json").read_text())
    assert card["human_questions"] == 0 and card["rules"]["answer_types"]["born in year"] == "date"
    assert card["kb"]["relations"] == 3


def test_adapt_refuses_a_kb_without_relations(tmp_path: Path) -> None:
    kb = tmp_path / "empty"
    with KnowledgeBase.open(kb, progress=False):
        pass
    with pytest.raises(KGQAError, match="no relations"):
        adapt(kb, AdaptConfig(examples=10), embedder="hashing", progress=False)
    assert main(["adapt", "--kb", str(kb), "--embedder", "hashing", "--no-progress"]) == 2


def test_adapt_with_one_relation_finishes_or_says_why(tmp_path: Path) -> None:
    kb = _kb(tmp_path, "".join(f"n{i}|next|n{i + 1}\n" for i in range(60)), "chain")
    config = AdaptConfig(examples=60, validation=20, replay=0, train=HeadConfig(steps=10, eval_every=5))
    try:
        report = adapt(kb, config, embedder="hashing", progress=False)
    except KGQAError as exc:
        assert "too few" in str(exc)
    else:
        assert report.examples > 0


def test_adapt_never_displaces_an_adapter_trained_on_real_questions() -> None:
    from pipeline.training.adapt import _trained_on_real_questions

    emb = HashingEmbedder()
    eye = np.eye(emb.dimension, dtype=np.float32)
    assert _trained_on_real_questions(HeadPathScorer(emb, eye, eye, {"questions": ["qa_dev.txt"]}))
    assert not _trained_on_real_questions(HeadPathScorer(emb, eye, eye, {"human_questions": 0}))
    assert not _trained_on_real_questions(ZeroShotPathScorer(emb))


def test_coverage_weighs_the_worst_matching_hop_into_a_path_score() -> None:
    from kg.stores.base import PathCount

    class Words:
        verbalization = VERBALIZATION
        hop_penalty = 0.0
        coverage = 1.0

        def score(self, question: str, paths: list[str]) -> list[float]:
            return [sum(w in question.split() for w in p.split()) / max(1, len(p.split())) for p in paths]

    one, two = (Step("capital", True),), (Step("capital", True), Step("population", True))
    counts = [PathCount(one, 1, 1), PathCount(two, 1, 1)]
    scored = {len(c.path): s for c, _, s in PathRetriever(None, Words())._score("the capital", counts)}  # type: ignore[arg-type]
    # "population" is not asked for: without coverage both read alike (0.5 each), with it one hop wins
    assert scored[1] > scored[2]


def test_lexical_adds_a_bonus_for_relations_the_question_names() -> None:
    from kg.stores.base import PathCount

    class Flat:
        verbalization = VERBALIZATION
        hop_penalty = 0.0
        lexical = 0.1

        def score(self, question: str, paths: list[str]) -> list[float]:
            return [0.5 for _ in paths]  # the embedding cannot tell them apart

    capital, head = (Step("P36", True),), (Step("P35", True),)
    counts = [PathCount(head, 1, 1), PathCount(capital, 1, 1)]
    labels = {"P36": "capital", "P35": "head of state", "Z36": "首都"}
    retriever = PathRetriever(None, Flat(), relation_labels=labels)  # type: ignore[arg-type]
    scored = {c.path: s for c, _, s in retriever._score("what is the capital of ?", counts)}
    assert scored[capital] == pytest.approx(0.6) and scored[head] == pytest.approx(0.5)
    off = PathRetriever(None, Flat(), PathConfig(lexical=0.0), labels)  # type: ignore[arg-type]
    assert {s for _, _, s in off._score("what is the capital of ?", counts)} == {0.5}
    chinese = [PathCount((Step("Z36", True),), 1, 1)]  # character pairs name answer types too ("哪个国家")
    assert [s for _, _, s in retriever._score("的首都是哪里？", chinese)] == [0.5]


def test_generic_adapter_card_records_no_benchmark_questions() -> None:
    from model.registry import GENERIC_SCORER

    card = json.loads((GENERIC_SCORER / "card.json").read_text(encoding="utf-8"))
    assert card["human_questions"] == 0 and card["benchmark_questions"] == 0 and "kb" not in card
    assert all(len(d["sha256"]) == 64 for d in card["data"]["synthetic"]) and card["command"].startswith("python -m")
    assert (GENERIC_SCORER / HEAD_FILE).stat().st_size < 2_000_000


def test_reverse_hop_pairs_are_worded_as_sharing_and_participles_as_verbs() -> None:
    import random

    rng = random.Random(0)
    share = (Step("starred_actors"), Step("starred_actors", False))
    texts = {word("Ann", share, ["starred actors", "starred actors"], "entity", rng) for _ in range(40)}
    assert any(w in t for t in texts for w in ("share", "same", "in common", "also"))  # "films sharing actors"
    back = (Step("directed_by", False),)
    texts = {word("Ann", back, ["directed by"], "entity", rng) for _ in range(60)}
    assert any("Ann directed" in t or "has Ann directed" in t for t in texts)  # "what has Ann directed"
    assert all("Ann" in t for t in texts)


def test_synthetic_examples_record_each_paths_hops_and_fewer_negatives_keeps_them(tmp_path: Path) -> None:
    import random

    from pipeline.training.synthetic import fewer_negatives

    made = QuestionMaker(_graph(_kb(tmp_path, CLUBS)), seed=3).examples(20)
    for example, _ in made:
        assert len(example.hops) == len(example.positives) + len(example.negatives)
        assert all(1 <= h <= 3 for h in example.hops)
        fewer = fewer_negatives(example, 2, random.Random(0))
        assert len(fewer.hops) == len(fewer.positives) + len(fewer.negatives)
        by_text = dict(zip((*example.positives, *example.negatives), example.hops))
        assert all(by_text[t] == h for t, h in zip((*fewer.positives, *fewer.negatives), fewer.hops))


def test_generic_templates_word_relations_by_their_aliases_too() -> None:
    from pipeline.training.supervision import generic_examples

    made = generic_examples(["capital", "population", "currency"], 60, aliases={"capital": ["seat of government"]})
    assert any("seat of government" in e.question and e.positives == ("capital",) for e in made)
    assert all(len(e.hops) == 1 + len(e.negatives) for e in made)


def test_a_learned_hop_prior_is_saved_loaded_and_added_by_the_retriever(tmp_path: Path) -> None:
    from kg.stores.base import PathCount

    one, two = (Step("alpha"),), (Step("alpha"), Step("beta"))
    examples = [PathExample(q, (pos,), (neg,), (hp, hn)) for _ in range(8) for q, pos, neg, hp, hn in
                [("tell me the alpha", "alpha", "beta of alpha", 1, 2),
                 ("tell me the beta of the alpha of it", "beta of alpha", "alpha", 2, 1)]]
    emb = HashingEmbedder()
    train_head(examples, examples, tmp_path / "head", emb, HeadConfig(steps=40, eval_every=10, hop_prior=True),
               progress=False)
    loaded = HeadPathScorer.load(tmp_path / "head", emb)
    assert loaded.hops is not None and loaded.card["hop_prior"].startswith("learned")
    assert loaded.hop_prior("tell me the alpha").shape == (3,)

    class Flat:
        verbalization = VERBALIZATION
        hop_penalty = 0.5
        coverage = 0.0

        def score(self, question: str, paths: list[str]) -> list[float]:
            return [0.0 for _ in paths]

        def hop_prior(self, question: str, max_hops: int = 3) -> np.ndarray:
            return np.array([0.0, 1.0, 0.0])[:max_hops]

    counts = [PathCount(one, 1, 1), PathCount(two, 1, 1)]
    scored = {len(c.path): s for c, _, s in PathRetriever(None, Flat())._score("q", counts)}  # type: ignore[arg-type]
    assert scored == {1: 0.0, 2: 1.0}  # the scorer's own prior, not its fixed penalty
    assert ZeroShotPathScorer(emb).hop_prior("q").tolist() == pytest.approx([0.0, -HOP_PENALTY, -2 * HOP_PENALTY])


def test_adapt_with_ten_thousand_relation_names_finishes_or_says_why(tmp_path: Path) -> None:
    kb = _kb(tmp_path, "".join(f"n{i % 500}|relation_{i}|n{(i * 7) % 500}\n" for i in range(10_000)), "wide")
    config = AdaptConfig(examples=60, validation=20, replay=50, train=HeadConfig(steps=10, eval_every=5))
    try:
        report = adapt(kb, config, embedder="hashing", progress=False)
    except KGQAError as exc:
        assert "too few" in str(exc)
    else:
        assert report.examples > 0 and report.rules["questions"] > 0


def test_adapt_over_labels_in_another_script(tmp_path: Path) -> None:
    text = "".join(f"球员{i}|效力于|俱乐部{i % 4}\n俱乐部{i % 4}|位于|城市{i % 2}\n" for i in range(30))
    kb = _kb(tmp_path, text, "zh")
    config = AdaptConfig(examples=60, validation=20, replay=0, train=HeadConfig(steps=10, eval_every=5))
    try:
        report = adapt(kb, config, embedder="hashing", progress=False)
    except KGQAError as exc:
        assert "too few" in str(exc)
    else:
        assert report.examples > 0 and "效力于" in report.rules["answer_types"]


def test_an_interrupted_adapt_leaves_the_live_scorer_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.training.adapt as adapt_module

    kb = _kb(tmp_path, CLUBS)
    config = AdaptConfig(examples=80, validation=30, replay=0, train=HeadConfig(steps=10, eval_every=5))
    adapt(kb, config, embedder="hashing", progress=False)
    before = read_history(kb)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(adapt_module, "train_head", interrupted)
    with pytest.raises(KeyboardInterrupt):
        adapt(kb, config, embedder="hashing", progress=False)
    assert read_history(kb) == before


def test_adapt_respects_its_time_budget(tmp_path: Path) -> None:
    kb = _kb(tmp_path, CLUBS)
    config = AdaptConfig(budget_minutes=0.01, examples=80, validation=30, replay=0,
                         train=HeadConfig(steps=1_000_000, eval_every=1_000_000))
    report = adapt(kb, config, embedder="hashing", progress=False)
    assert report.stopped == "time budget"
