"""The package's ``evaluate`` modules (genai_labs.evaluate_modules; Lab 3's ROUGE and toxicity cells): the same numbers
as the package's metric functions, and loadable with no hub."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import evaluate
import numpy as np
import pytest
from transformers import RobertaForSequenceClassification

from genai_labs.evaluate_modules import rouge_module_path, toxicity_module_path
from genai_labs.metrics import ROUGE_TYPES, rouge_scores, toxicity_aggregate, toxicity_probabilities
from genai_labs.toxicity_classifier import build_toxicity_classifier, train_reward_tokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PREDICTIONS = [
    "#Person1# and #Person2# talk about a flat on Monday.",
    "#Person2# buys a book for Tom.",
    "They talk about the weather.",
    "",
]
SINGLE_REFERENCES = [
    "#Person1# asks #Person2# about a flat on Monday.",
    "#Person2# buys a red book for Tom at the shop.",
    "#Person1# and #Person2# talk about rain.",
    "#Person1# greets #Person2#.",
]
MULTI_REFERENCES = [
    [SINGLE_REFERENCES[0], "They look at a flat."],
    [SINGLE_REFERENCES[1]],
    [SINGLE_REFERENCES[2], "They talk about the weather today.", "Rain."],
    [SINGLE_REFERENCES[3], "A greeting."],
]
TEXTS = [
    "#Person2# complains to #Person1# that the order is late.",
    "#Person2# calls #Person1# a useless idiot.",
    "#Person1# and #Person2# talk about a flat.",
    "stupid dumb idiot",
    "They agree to meet on Tuesday.",
]


@pytest.fixture(scope="module")
def rouge() -> evaluate.EvaluationModule:
    return evaluate.load(rouge_module_path(), keep_in_memory=True)


@pytest.fixture(scope="module")
def classifier() -> tuple[RobertaForSequenceClassification, object]:
    """A randomly initialised tiny hate/nothate classifier: random, but a fixed function of the text."""
    tokenizer = train_reward_tokenizer(TEXTS * 3 + PREDICTIONS + SINGLE_REFERENCES)
    return build_toxicity_classifier(tokenizer, seed=0).eval(), tokenizer


@pytest.mark.parametrize("references", [SINGLE_REFERENCES, MULTI_REFERENCES], ids=["single", "multi"])
def test_rouge_module_gives_the_package_numbers(rouge: evaluate.EvaluationModule, references: list) -> None:
    expected = rouge_scores(PREDICTIONS, references)
    per_example = rouge.compute(predictions=PREDICTIONS, references=references, use_aggregator=False)
    assert list(per_example) == list(ROUGE_TYPES)
    for key in ROUGE_TYPES:
        assert per_example[key] == expected[key].tolist()
    aggregated = rouge.compute(predictions=PREDICTIONS, references=references)
    assert aggregated == {key: float(expected[key].mean()) for key in ROUGE_TYPES}
    assert 0 < aggregated["rouge1"] < 1


def test_rouge_module_passes_types_and_stemmer_through(rouge: evaluate.EvaluationModule) -> None:
    plain = rouge.compute(predictions=PREDICTIONS, references=SINGLE_REFERENCES, rouge_types=["rouge2"], use_stemmer=False)
    expected = rouge_scores(PREDICTIONS, SINGLE_REFERENCES, rouge_types=["rouge2"], use_stemmer=False)
    assert plain == {"rouge2": float(expected["rouge2"].mean())}


def test_toxicity_module_gives_the_package_numbers(classifier: tuple) -> None:
    model, tokenizer = classifier
    toxicity = evaluate.load(
        toxicity_module_path(), module_type="measurement", keep_in_memory=True, model=model, tokenizer=tokenizer
    )
    expected = toxicity_probabilities(model, tokenizer, TEXTS, toxic_label="hate")
    assert len(set(np.round(expected, 6))) > 1  # the texts get different probabilities: the comparison means something
    assert toxicity.compute(predictions=TEXTS, toxic_label="hate") == {"toxicity": expected}
    assert toxicity.compute(predictions=TEXTS, toxic_label="hate", aggregation="all") == {"toxicity": expected}
    for aggregation in ("mean", "ratio", "maximum"):
        assert toxicity.compute(predictions=TEXTS, aggregation=aggregation) == toxicity_aggregate(expected, aggregation)
    threshold = float(np.median(expected))
    ratio = toxicity.compute(predictions=TEXTS, aggregation="ratio", threshold=threshold)
    assert ratio == {"toxicity_ratio": float(np.mean(np.asarray(expected) >= threshold))}
    # the label is found by name: the other label's probabilities are the complement
    nothate = toxicity.compute(predictions=TEXTS, toxic_label="nothate")["toxicity"]
    np.testing.assert_allclose(np.asarray(nothate) + np.asarray(expected), 1.0, rtol=1e-6)


def test_toxicity_module_needs_both_model_and_tokenizer(classifier: tuple) -> None:
    with pytest.raises(ValueError, match="tokenizer"):
        evaluate.load(toxicity_module_path(), module_type="measurement", keep_in_memory=True, model=classifier[0])


def test_toxicity_aggregate_names_and_checks() -> None:
    scores = [0.1, 0.5, 0.9, 0.2]
    assert toxicity_aggregate(scores, "mean") == {"toxicity_mean": pytest.approx(0.425)}
    assert toxicity_aggregate(scores, "ratio") == {"toxicity_ratio": 0.5}
    assert toxicity_aggregate(scores, "maximum") == {"max_toxicity": 0.9}
    with pytest.raises(ValueError, match="aggregation must be one of"):
        toxicity_aggregate(scores, "median")
    with pytest.raises(ValueError, match="threshold"):
        toxicity_aggregate(scores, "ratio", threshold=1.5)


OFFLINE_SCRIPT = """
import json, sys
import evaluate
from genai_labs.evaluate_modules import rouge_module_path, toxicity_module_path
rouge = evaluate.load(rouge_module_path())
toxicity = evaluate.load(toxicity_module_path(), "{classifier}", module_type="measurement")
print(json.dumps({{
    "rouge": rouge.compute(predictions={predictions!r}, references={references!r}),
    "toxicity": toxicity.compute(predictions={texts!r}, toxic_label="hate")["toxicity"],
}}))
"""


def test_modules_load_offline(classifier: tuple, tmp_path: Path) -> None:
    """With HF_HUB_OFFLINE=1 and an empty modules cache, both modules load from their folders in a fresh process; the
    toxicity module also loads a classifier named as its config (a local folder here, the course's hub id by default)."""
    model, tokenizer = classifier
    model.save_pretrained(tmp_path / "classifier")
    tokenizer.save_pretrained(tmp_path / "classifier")
    script = OFFLINE_SCRIPT.format(
        classifier=tmp_path / "classifier", predictions=PREDICTIONS, references=SINGLE_REFERENCES, texts=TEXTS
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
        "HF_HOME": str(tmp_path / "hf-home"),
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rouge"] == {key: float(rouge_scores(PREDICTIONS, SINGLE_REFERENCES)[key].mean()) for key in ROUGE_TYPES}
    np.testing.assert_allclose(result["toxicity"], toxicity_probabilities(model, tokenizer, TEXTS), rtol=1e-5)
