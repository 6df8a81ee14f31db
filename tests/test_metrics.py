"""Tests for genai_labs.metrics: ROUGE, bootstrap intervals, constant baseline, distinct-n, toxicity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rouge_score import rouge_scorer
from transformers import PreTrainedTokenizerFast, RobertaConfig, RobertaForSequenceClassification

from genai_labs.metrics import (
    ROUGE_TYPES,
    best_constant_baseline,
    bootstrap_ci,
    distinct_n,
    label_id,
    label_logits,
    paired_bootstrap,
    rouge_differences,
    rouge_scores,
    rouge_table,
    single_reference_rows,
    toxicity_probabilities,
    toxicity_summary,
)

PREDICTIONS = [
    "Person1 and Person2 are running to the park.",
    "#Person1# asks for the bill.\nThey pay by card.",
    "The weather is nice today.",
]
REFERENCES = [
    "#Person1# runs to the park with #Person2#.",
    "#Person1# asks the waiter for the bill.\n#Person1# pays by card.",
    "#Person2# says it will rain tomorrow.",
]


# --------------------------------------------------------------------------------------------- ROUGE


def test_rouge_scores_match_rouge_score() -> None:
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    frame = rouge_scores(PREDICTIONS, REFERENCES)
    assert list(frame.columns) == list(ROUGE_TYPES) and len(frame) == 3
    for i, (pred, ref) in enumerate(zip(PREDICTIONS, REFERENCES)):
        expected = scorer.score(ref, pred)
        for key in ROUGE_TYPES:
            assert frame.loc[i, key] == expected[key].fmeasure


def test_lsum_splits_on_newlines_and_stemmer_option() -> None:
    pred = ["the cat sat\nthe dog ran"]
    ref = ["the dog ran\nthe cat sat"]
    frame = rouge_scores(pred, ref)
    assert frame.loc[0, "rougeLsum"] == pytest.approx(1.0)  # sentence-level LCS recovers both sentences
    assert frame.loc[0, "rougeL"] < 1.0
    stemmed = rouge_scores(["he runs"], ["he running"], use_stemmer=True).loc[0, "rouge1"]
    plain = rouge_scores(["he runs"], ["he running"], use_stemmer=False).loc[0, "rouge1"]
    assert stemmed == pytest.approx(1.0) and plain == pytest.approx(0.5)


def test_multi_reference_takes_best_per_metric() -> None:
    refs = [["a totally different sentence", REFERENCES[0]], [REFERENCES[1]], [REFERENCES[2], PREDICTIONS[2]]]
    frame = rouge_scores(PREDICTIONS, refs)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    for i, (pred, group) in enumerate(zip(PREDICTIONS, refs)):
        expected = scorer.score_multi(group, pred)
        for key in ROUGE_TYPES:
            assert frame.loc[i, key] == expected[key].fmeasure
            assert frame.loc[i, key] == max(scorer.score(r, pred)[key].fmeasure for r in group)
    assert frame.loc[2, "rouge1"] == pytest.approx(1.0)
    # single-reference strings and one-element lists agree
    assert rouge_scores(PREDICTIONS, REFERENCES).equals(rouge_scores(PREDICTIONS, [[r] for r in REFERENCES]))


def test_rouge_validation_errors() -> None:
    with pytest.raises(ValueError, match=r"2 predictions and 3 references"):
        rouge_scores(PREDICTIONS[:2], REFERENCES)
    with pytest.raises(ValueError, match=r"references\[1\] is an empty list"):
        rouge_scores(PREDICTIONS, [["x"], [], ["y"]])
    with pytest.raises(ValueError, match="references is empty"):
        rouge_scores([], [])
    with pytest.raises(TypeError, match="predictions"):
        rouge_scores("a string", ["x"])


# ----------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_reproducible_and_sane() -> None:
    values = np.random.default_rng(0).random(200)
    mean, low, high = bootstrap_ci(values, resamples=500, seed=3)
    assert mean == pytest.approx(values.mean())
    assert low < mean < high
    assert bootstrap_ci(values, resamples=500, seed=3) == (mean, low, high)
    assert bootstrap_ci(values, resamples=500, seed=4) != (mean, low, high)
    narrow = bootstrap_ci(values, resamples=500, seed=3, confidence=0.5)
    assert low < narrow[1] < narrow[2] < high
    assert bootstrap_ci([0.25, 0.25, 0.25]) == (0.25, 0.25, 0.25)
    with pytest.raises(ValueError, match="values is empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0], confidence=1.5)


def test_paired_bootstrap() -> None:
    b = np.random.default_rng(1).random(50)
    floor = 2 / 201  # 2 * (0 + 1) / (resamples + 1): a finite bootstrap never gives p = 0
    shifted = paired_bootstrap(b + 0.1, b, resamples=200)
    assert shifted["diff"] == pytest.approx(0.1)
    assert shifted["low"] == pytest.approx(0.1) and shifted["high"] == pytest.approx(0.1)
    assert shifted["p_value"] == pytest.approx(floor)
    same = paired_bootstrap(b, b, resamples=200)
    assert same["diff"] == 0.0 and same["p_value"] == 1.0
    worse = paired_bootstrap(b - 0.2, b, resamples=200)
    assert worse["high"] < 0 and worse["p_value"] == pytest.approx(floor)  # two-sided: "b beats a" is significant too
    assert paired_bootstrap(b, b[::-1], seed=5) == paired_bootstrap(b, b[::-1], seed=5)
    with pytest.raises(ValueError, match="same examples"):
        paired_bootstrap(b, b[:10])


def test_paired_bootstrap_p_value_is_two_sided_and_agrees_with_the_interval() -> None:
    rng = np.random.default_rng(2)
    for shift in (-0.3, -0.1, -0.03, 0.0, 0.03, 0.1, 0.3):
        a, b = rng.random(40) + shift, rng.random(40)
        forward = paired_bootstrap(a, b, resamples=500, seed=1)
        backward = paired_bootstrap(b, a, resamples=500, seed=1)
        assert forward["p_value"] == pytest.approx(backward["p_value"])  # symmetric: no preferred direction
        assert 0.0 < forward["p_value"] <= 1.0
        if forward["p_value"] < 0.05:  # significant at 5% -> the 95% interval excludes 0
            assert forward["low"] > 0 or forward["high"] < 0


def test_rouge_table_and_differences() -> None:
    systems = {"copy": list(REFERENCES), "model": list(PREDICTIONS), "empty": ["", "", ""]}
    table = rouge_table(systems, REFERENCES, resamples=200)
    assert list(table.columns) == ["system", "metric", "mean", "ci_low", "ci_high", "n"]
    assert len(table) == 3 * len(ROUGE_TYPES)
    copy = table[table.system == "copy"]
    assert (copy["mean"] == 1.0).all() and (copy["ci_low"] == 1.0).all()
    model_r1 = table[(table.system == "model") & (table.metric == "rouge1")].iloc[0]
    assert model_r1["mean"] == pytest.approx(rouge_scores(PREDICTIONS, REFERENCES)["rouge1"].mean())
    assert model_r1["ci_low"] <= model_r1["mean"] <= model_r1["ci_high"]
    assert table.equals(rouge_table(systems, REFERENCES, resamples=200))

    diffs = rouge_differences(systems, REFERENCES, baseline="empty", resamples=200)
    assert list(diffs.columns) == ["system", "baseline", "metric", "diff", "ci_low", "ci_high", "p_value"]
    assert set(diffs.system) == {"copy", "model"} and (diffs.baseline == "empty").all()
    copy_r1 = diffs[(diffs.system == "copy") & (diffs.metric == "rouge1")].iloc[0]
    assert copy_r1["diff"] == 1.0 and copy_r1["p_value"] == pytest.approx(2 / 201)
    with pytest.raises(ValueError, match="baseline 'nope'"):
        rouge_differences(systems, REFERENCES, baseline="nope")
    with pytest.raises(ValueError, match=r"system_predictions\['short'\] has 1 predictions"):
        rouge_table({"short": ["x"]}, REFERENCES)


def test_best_constant_baseline_matches_brute_force() -> None:
    refs = [
        "#Person1# asks #Person2# for the bill.",
        "#Person2# pays the bill by card.",
        "#Person1# and #Person2# talk about the weather.",
        "#Person1# is running late for the meeting.",
    ]
    candidates = [*refs, "the bill", "#Person1# #Person2# the bill", ""]
    text, score = best_constant_baseline(refs, candidates)
    scorer = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    brute = {c: np.mean([scorer.score(r, c)["rouge1"].fmeasure for r in refs]) for c in candidates}
    assert score == pytest.approx(max(brute.values()))
    assert text == max(candidates, key=lambda c: brute[c])  # first of the best on ties
    multi_text, multi_score = best_constant_baseline([[r, "the bill"] for r in refs], ["the bill", refs[0]])
    assert (multi_text, multi_score) == ("the bill", pytest.approx(1.0))
    with pytest.raises(ValueError, match="candidates is empty"):
        best_constant_baseline(refs, [])


def test_distinct_n() -> None:
    texts = ["the cat sat", "the cat ran"]
    assert distinct_n(texts, 1) == pytest.approx(4 / 6)  # the, cat, sat, ran
    assert distinct_n(texts, 2) == pytest.approx(3 / 4)  # (the cat) twice
    assert distinct_n(["The the THE"], 1) == pytest.approx(1 / 3)
    assert distinct_n(["one"], 2) == 0.0
    assert distinct_n(["a b", "b c"], 2, tokenize=str.split) == 1.0
    with pytest.raises(ValueError, match="n must be"):
        distinct_n(texts, 0)


# ------------------------------------------------------------------------------------------ toxicity


@pytest.fixture(scope="module")
def classifier(word_tokenizer) -> tuple[RobertaForSequenceClassification, PreTrainedTokenizerFast]:
    words = ["you", "are", "nice", "kind", "stupid", "idiot", "the", "a", "friend", "great", "terrible"]
    tokenizer = word_tokenizer(words, roberta=True, split_punctuation=True)
    torch.manual_seed(0)
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=12,  # RoBERTa reserves pad_token_id + 1 = 2 positions: 10 tokens fit
        pad_token_id=1,
        id2label={0: "nothate", 1: "hate"},
        label2id={"nothate": 0, "hate": 1},
    )
    return RobertaForSequenceClassification(config).eval(), tokenizer


def test_label_id_by_name_never_position(classifier) -> None:
    model, _ = classifier
    assert label_id(model.config, "hate") == 1
    assert label_id(model.config, "NotHate") == 0
    assert label_id(model, "nothate") == 0
    assert label_id({0: "LABEL_A", 1: "toxic"}, "Toxic") == 1
    assert label_id({"0": "nothate", "1": "hate"}, "hate") == 1
    with pytest.raises(ValueError, match=r"'toxic' is not a label.*0='nothate', 1='hate'"):
        label_id(model.config, "toxic")


def test_label_logits_and_probabilities(classifier) -> None:
    model, tokenizer = classifier
    texts = ["you are nice", "you are a stupid idiot", "great friend", "terrible", "the the the kind"]
    with torch.no_grad():
        manual = torch.cat([model(**tokenizer(t, return_tensors="pt")).logits for t in texts])
    rewards = label_logits(model, tokenizer, texts, "nothate", batch_size=2)
    assert rewards.shape == (5,)
    torch.testing.assert_close(rewards, manual[:, 0], atol=1e-5, rtol=1e-5)
    hate = label_logits(model, tokenizer, texts, "hate", batch_size=5)
    torch.testing.assert_close(hate, manual[:, 1], atol=1e-5, rtol=1e-5)
    probs = toxicity_probabilities(model, tokenizer, texts, batch_size=3)
    assert probs == pytest.approx(manual.softmax(-1)[:, 1].tolist(), abs=1e-6)
    assert toxicity_probabilities(model, tokenizer, []) == []


def test_long_texts_truncated_to_classifier_limit(classifier) -> None:
    model, tokenizer = classifier
    long_text = " ".join(["stupid"] * 30)
    model.train()
    reward = label_logits(model, tokenizer, [long_text, "nice"], "nothate", batch_size=2)
    assert model.training, "training mode restored"
    model.eval()
    truncated = tokenizer(long_text, truncation=True, max_length=10, return_tensors="pt")
    with torch.no_grad():
        expected = model(**truncated).logits[0, 0]
    torch.testing.assert_close(reward[0], expected, atol=1e-5, rtol=1e-5)


def test_toxicity_summary() -> None:
    probs = [0.1, 0.5, 0.9, 0.2]
    summary = toxicity_summary(probs, resamples=200)
    assert summary["mean"] == pytest.approx(0.425)
    assert summary["std"] == pytest.approx(float(np.std(probs)))
    assert summary["toxicity_ratio"] == 0.5  # >= threshold, like evaluate's aggregation="ratio"
    assert summary["ci_low"] <= summary["mean"] <= summary["ci_high"]
    assert summary["n"] == 4
    assert toxicity_summary(probs, threshold=0.95)["toxicity_ratio"] == 0.0
    with pytest.raises(ValueError, match="threshold"):
        toxicity_summary(probs, threshold=50)


def test_toxicity_report_uses_the_same_rule() -> None:
    from genai_labs.lab3.detox import ToxicityReport

    probs = np.array([0.1, 0.5, 0.9, 0.2])
    report = ToxicityReport(summaries=["a", "b", "c", "d"], probabilities=probs)
    assert report.summary(resamples=200) == toxicity_summary(probs, resamples=200)
    assert report.summary(resamples=200)["toxicity_ratio"] == 0.5  # 0.5 itself counts as toxic


def test_single_reference_rows_repeat_each_prediction_per_reference() -> None:
    predictions = {"a": ["x y", "z"], "b": ["p", "q"]}
    flat, refs = single_reference_rows(predictions, [["x", "y", "x y"], "z"])
    assert refs == ["x", "y", "x y", "z"]
    assert flat == {"a": ["x y", "x y", "x y", "z"], "b": ["p", "p", "p", "q"]}
    # the mean over rows averages over references; multi-reference scoring takes the best one
    single = rouge_scores(flat["a"], refs, rouge_types=("rouge1",))["rouge1"].mean()
    multi = rouge_scores(predictions["a"], [["x", "y", "x y"], "z"], rouge_types=("rouge1",))["rouge1"].mean()
    assert single == pytest.approx((2 / 3 + 2 / 3 + 1 + 1) / 4) and multi == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"system_predictions\['a'\] has 1"):
        single_reference_rows({"a": ["x"]}, ["x", "y"])
