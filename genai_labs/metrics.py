"""Metrics for all labs: ROUGE (Labs 1-3), bootstrap confidence intervals, toxicity (Lab 3), distinct-n (Lab 1),
and the topic skill's accuracy (the world build's check, Lab 2's forgetting probe).

ROUGE uses ``rouge_score`` directly (``evaluate.load("rouge")`` needs the hub) with the definitions of
``evaluate``'s rouge module: ``rouge_scorer.RougeScorer(types, use_stemmer=...)``, rougeLsum splits
sentences on newlines, and with several references per example ``score_multi`` keeps, per metric, the
reference with the best F-measure. Aggregates are the plain mean F-measure, i.e. ``evaluate`` with
``use_aggregator=False`` followed by a mean (``use_aggregator=True`` reports the median of bootstrap
means, a noisy estimate of the same number). The default ``use_stemmer=True`` is the course's setting.

Toxicity follows ``evaluate``'s toxicity measurement: the softmax probability of the hate label, the
mean/std over texts, and ``toxicity_ratio``, the share of texts at or above a threshold (``evaluate``'s
``aggregation="ratio"``). Labels are always found by name in ``config.id2label``, never by position.

Differences between two systems on the same examples get a paired bootstrap: a percentile interval and a
two-sided p-value from the same resamples (see :func:`paired_bootstrap`).
"""

from __future__ import annotations

import functools
import re
import string
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from rouge_score import rouge_scorer, tokenizers
from transformers import GenerationConfig

from genai_labs.generation import generate_texts, model_device
from genai_labs.prompts import topic_prompt

ROUGE_TYPES: tuple[str, ...] = ("rouge1", "rouge2", "rougeL", "rougeLsum")

References = Sequence[str] | Sequence[Sequence[str]]


# --------------------------------------------------------------------------------------------- ROUGE


def _normalise_references(references: Sequence[Any], n_predictions: int | None, name: str = "references") -> list[list[str]]:
    """One non-empty list of reference strings per example; clear errors naming ``name``."""
    if isinstance(references, str):
        raise TypeError(f"{name} must be a list of strings (or of lists of strings), not one string.")
    refs = list(references)
    if n_predictions is not None and len(refs) != n_predictions:
        raise ValueError(
            f"predictions and {name} must have the same length: got {n_predictions} predictions and {len(refs)} {name}."
        )
    if not refs:
        raise ValueError(f"{name} is empty: ROUGE needs at least one example.")
    out: list[list[str]] = []
    for i, ref in enumerate(refs):
        group = [ref] if isinstance(ref, str) else list(ref)
        if not group:
            raise ValueError(f"{name}[{i}] is an empty list: every example needs at least one reference.")
        for r in group:
            if not isinstance(r, str):
                raise TypeError(f"{name}[{i}] contains {type(r).__name__}; references must be strings.")
        out.append(group)
    return out


def _check_predictions(predictions: Sequence[str], name: str = "predictions") -> list[str]:
    if isinstance(predictions, str):
        raise TypeError(f"{name} must be a list of strings, not one string.")
    preds = list(predictions)
    for i, p in enumerate(preds):
        if not isinstance(p, str):
            raise TypeError(f"{name}[{i}] is {type(p).__name__}; predictions must be strings.")
    return preds


def rouge_scores(
    predictions: Sequence[str],
    references: References,
    *,
    use_stemmer: bool = True,
    rouge_types: Sequence[str] = ROUGE_TYPES,
) -> pd.DataFrame:
    """Per-example ROUGE F-measures, one column per ROUGE type (all labs).

    ``references`` holds one string per prediction, or a list of strings per prediction (multi-reference:
    the best-scoring reference is taken per metric, like ``evaluate``).
    """
    preds = _check_predictions(predictions)
    refs = _normalise_references(references, len(preds))
    scorer = rouge_scorer.RougeScorer(list(rouge_types), use_stemmer=use_stemmer)
    rows = []
    for pred, group in zip(preds, refs):
        score = scorer.score(group[0], pred) if len(group) == 1 else scorer.score_multi(group, pred)
        rows.append({key: score[key].fmeasure for key in rouge_types})
    return pd.DataFrame(rows, columns=list(rouge_types))


# ----------------------------------------------------------------------------------------- bootstrap


def _as_float_array(values: Sequence[float] | np.ndarray | pd.Series, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).reshape(-1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a bootstrap needs at least one value.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def _check_bootstrap_args(resamples: int, confidence: float) -> None:
    if not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")


def _resampled_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, values.size, size=(resamples, values.size))
    return values[idx].mean(axis=1)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray | pd.Series,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``(mean, low, high)``: the mean and its percentile-bootstrap confidence interval (all labs)."""
    _check_bootstrap_args(resamples, confidence)
    arr = _as_float_array(values, "values")
    means = _resampled_means(arr, resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(arr.mean()), float(low), float(high)


def paired_bootstrap(
    a: Sequence[float] | np.ndarray | pd.Series,
    b: Sequence[float] | np.ndarray | pd.Series,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Paired bootstrap of ``mean(a) - mean(b)`` over the same examples (Labs 1-3 comparisons).

    Returns ``diff``, its percentile interval ``low``/``high`` and ``p_value``, all from the same resampled
    mean differences. ``p_value`` is two-sided, for "a and b have the same mean": twice the share of
    resampled differences on the rarer side of 0, as ``2 * (count + 1) / (resamples + 1)`` capped at 1, so it
    is never exactly 0 (its floor is about ``2 / resamples``). It agrees with the interval: a ``p_value``
    below ``1 - confidence`` means the interval excludes 0; 1.0 means the differences sit on both sides of 0
    evenly (or are all 0).
    """
    _check_bootstrap_args(resamples, confidence)
    x = _as_float_array(a, "a")
    y = _as_float_array(b, "b")
    if x.size != y.size:
        raise ValueError(f"a and b must score the same examples: got {x.size} and {y.size} values.")
    diffs = _resampled_means(x - y, resamples, seed)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha])
    rarer_side = min(int(np.sum(diffs <= 0.0)), int(np.sum(diffs >= 0.0)))
    return {
        "diff": float((x - y).mean()),
        "low": float(low),
        "high": float(high),
        "p_value": min(1.0, 2.0 * (rarer_side + 1) / (resamples + 1)),
    }


def _score_systems(
    system_predictions: Mapping[str, Sequence[str]],
    references: References,
    use_stemmer: bool,
    rouge_types: Sequence[str],
) -> dict[str, pd.DataFrame]:
    if not system_predictions:
        raise ValueError("system_predictions is empty: pass {system name: list of predictions}.")
    refs = _normalise_references(references, None)
    out = {}
    for name, preds in system_predictions.items():
        if len(preds) != len(refs):
            raise ValueError(f"system_predictions[{name!r}] has {len(preds)} predictions but references has {len(refs)}.")
        out[name] = _memoised_rouge_scores(tuple(preds), tuple(map(tuple, refs)), use_stemmer, tuple(rouge_types)).copy()
    return out


@functools.lru_cache(maxsize=32)
def _memoised_rouge_scores(
    predictions: tuple[str, ...], references: tuple[tuple[str, ...], ...], use_stemmer: bool, rouge_types: tuple[str, ...]
) -> pd.DataFrame:
    """:func:`rouge_scores` remembered for the last few inputs: a lab's table and its paired differences score
    the same predictions (ROUGE-L's longest common subsequences dominate a lab's scoring time)."""
    return rouge_scores(
        list(predictions), [list(group) for group in references], use_stemmer=use_stemmer, rouge_types=rouge_types
    )


def rouge_table(
    system_predictions: Mapping[str, Sequence[str]],
    references: References,
    *,
    use_stemmer: bool = True,
    rouge_types: Sequence[str] = ROUGE_TYPES,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Tidy table: one row per (system, metric) with mean ROUGE and bootstrap CI (Labs 1-3).

    Columns: ``system, metric, mean, ci_low, ci_high, n``. Same seed for every cell, so reruns match.
    """
    scores = _score_systems(system_predictions, references, use_stemmer, rouge_types)
    return rouge_table_from_scores(scores, rouge_types=rouge_types, resamples=resamples, confidence=confidence, seed=seed)


def _score_frames(scores: Mapping[str, Any], rouge_types: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per-example ROUGE of each system as DataFrames: from DataFrames, or from ``{type: [F per example]}`` (an
    ``evaluate`` ROUGE module's ``use_aggregator=False`` result)."""
    if not scores:
        raise ValueError("scores is empty: pass {system name: per-example ROUGE scores}.")
    frames = {name: pd.DataFrame({key: list(values[key]) for key in rouge_types}) for name, values in scores.items()}
    sizes = {name: len(frame) for name, frame in frames.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"every system must score the same examples; got {sizes}.")
    return frames


def rouge_table_from_scores(
    scores: Mapping[str, Any],
    *,
    rouge_types: Sequence[str] = ROUGE_TYPES,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`rouge_table` from per-example scores already computed (Lab 3: by the package's ``evaluate`` ROUGE module
    with ``use_aggregator=False``): ``{system: {rouge type: [F per example]}}`` or ``{system: DataFrame}``."""
    scores = _score_frames(scores, rouge_types)
    rows = []
    for name, frame in scores.items():
        for metric in rouge_types:
            mean, low, high = bootstrap_ci(frame[metric], resamples=resamples, confidence=confidence, seed=seed)
            rows.append({"system": name, "metric": metric, "mean": mean, "ci_low": low, "ci_high": high, "n": len(frame)})
    return pd.DataFrame(rows, columns=["system", "metric", "mean", "ci_low", "ci_high", "n"])


def single_reference_rows(
    system_predictions: Mapping[str, Sequence[str]], references: References
) -> tuple[dict[str, list[str]], list[str]]:
    """The hub's one-row-per-reference layout (Lab 2's comparison with the course's published table): every
    prediction repeated once per reference of its example, and the references flattened in the same order.

    DialogSum's test split has three human summaries per dialogue in three rows (1,500 rows for 500 dialogues);
    the course scored each row on its own, which averages over references instead of taking the best one.
    """
    refs = _normalise_references(references, None)
    flat_refs = [ref for group in refs for ref in group]
    flat_predictions = {}
    for name, preds in system_predictions.items():
        if len(preds) != len(refs):
            raise ValueError(f"system_predictions[{name!r}] has {len(preds)} predictions but references has {len(refs)}.")
        flat_predictions[name] = [pred for pred, group in zip(preds, refs) for _ in group]
    return flat_predictions, flat_refs


def rouge_differences(
    system_predictions: Mapping[str, Sequence[str]],
    references: References,
    *,
    baseline: str,
    use_stemmer: bool = True,
    rouge_types: Sequence[str] = ROUGE_TYPES,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Paired-bootstrap ROUGE differences of every system against ``baseline`` (Labs 1-3).

    Columns: ``system, baseline, metric, diff, ci_low, ci_high, p_value``; ``p_value`` is the two-sided
    paired-bootstrap p-value of :func:`paired_bootstrap` (below 0.05: the 95% interval excludes 0).
    """
    if baseline not in system_predictions:
        raise ValueError(f"baseline {baseline!r} is not in system_predictions; systems: {list(system_predictions)}.")
    scores = _score_systems(system_predictions, references, use_stemmer, rouge_types)
    return rouge_differences_from_scores(
        scores, baseline=baseline, rouge_types=rouge_types, resamples=resamples, confidence=confidence, seed=seed
    )


def rouge_differences_from_scores(
    scores: Mapping[str, Any],
    *,
    baseline: str,
    rouge_types: Sequence[str] = ROUGE_TYPES,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """:func:`rouge_differences` from per-example scores already computed (the layouts of
    :func:`rouge_table_from_scores`)."""
    if baseline not in scores:
        raise ValueError(f"baseline {baseline!r} is not in scores; systems: {list(scores)}.")
    scores = _score_frames(scores, rouge_types)
    rows = []
    for name, frame in scores.items():
        if name == baseline:
            continue
        for metric in rouge_types:
            res = paired_bootstrap(frame[metric], scores[baseline][metric], resamples=resamples, confidence=confidence, seed=seed)
            rows.append(
                {
                    "system": name,
                    "baseline": baseline,
                    "metric": metric,
                    "diff": res["diff"],
                    "ci_low": res["low"],
                    "ci_high": res["high"],
                    "p_value": res["p_value"],
                }
            )
    return pd.DataFrame(rows, columns=["system", "baseline", "metric", "diff", "ci_low", "ci_high", "p_value"])


def best_constant_baseline(
    references: References,
    candidates: Sequence[str],
    *,
    use_stemmer: bool = True,
) -> tuple[str, float]:
    """The single text that, output for every example, gets the highest mean ROUGE-1 (Lab 2 acceptance).

    Tokenises each text once with ``rouge_score``'s tokenizer and counts unigram overlaps against all references
    at once (identical to ``rouge_score``'s rouge1 F-measure, best reference per example). Ties go to the
    earliest candidate.
    """
    refs = _normalise_references(references, None)
    cands = _check_predictions(candidates, "candidates")
    if not cands:
        raise ValueError("candidates is empty: pass e.g. all reference summaries of the training split.")
    tokenizer = tokenizers.DefaultTokenizer(use_stemmer=use_stemmer)
    ref_counts = [Counter(tokenizer.tokenize(text)) for group in refs for text in group]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(t for counts in ref_counts for t in counts))}
    matrix = np.zeros((len(ref_counts), max(len(vocab), 1)), dtype=np.int64)  # reference x token counts
    for row, counts in enumerate(ref_counts):
        for token, n in counts.items():
            matrix[row, vocab[token]] = n
    ref_totals = np.maximum(matrix.sum(axis=1), 1).astype(np.float64)
    group_starts = np.cumsum([0] + [len(group) for group in refs[:-1]])
    best_text, best_score = cands[0], -1.0
    for cand in dict.fromkeys(cands):  # unique, first occurrence order
        counts = Counter(tokenizer.tokenize(cand))
        shared = [(vocab[t], n) for t, n in counts.items() if t in vocab]
        if shared:
            columns, cand_counts = zip(*shared)
            overlap = np.minimum(matrix[:, list(columns)], np.array(cand_counts)).sum(axis=1).astype(np.float64)
        else:
            overlap = np.zeros(len(ref_counts))
        precision = overlap / max(sum(counts.values()), 1)
        recall = overlap / ref_totals
        denominator = precision + recall
        f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(denominator), where=denominator > 0)
        score = sum(np.maximum.reduceat(f1, group_starts).tolist()) / len(refs)
        if score > best_score:
            best_text, best_score = cand, score
    return best_text, float(best_score)


# ----------------------------------------------------------------------------------------- diversity


def distinct_n(texts: Sequence[str], n: int, *, tokenize: Callable[[str], list[str]] | None = None) -> float:
    """Distinct n-grams / total n-grams over all texts (Lab 1's diversity-vs-temperature curve).

    Tokens are the lower-cased whitespace-split words unless ``tokenize`` is given; n-grams do not cross
    text boundaries. Returns 0.0 when the texts contain no n-gram.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string.")
    split = tokenize or (lambda text: text.lower().split())
    grams: list[tuple[str, ...]] = []
    for text in texts:
        tokens = split(text)
        grams.extend(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return len(set(grams)) / len(grams) if grams else 0.0


# ------------------------------------------------------------------------------------------ toxicity


def label_id(model_config_or_id2label: Any, name: str) -> int:
    """The class index whose ``id2label`` name equals ``name`` (case-insensitive) (Lab 3).

    Accepts a model, its config, or an ``id2label`` mapping. Never guesses by position: an unknown name
    raises ``ValueError`` listing the available labels.
    """
    source = model_config_or_id2label
    if hasattr(source, "config") and hasattr(source.config, "id2label"):
        source = source.config
    id2label = getattr(source, "id2label", source)
    if not isinstance(id2label, Mapping):
        raise TypeError(
            f"expected a model, a config with id2label, or an id2label mapping; got {type(model_config_or_id2label).__name__}."
        )
    matches = [int(i) for i, label in id2label.items() if str(label).lower() == name.lower()]
    if len(matches) != 1:
        available = ", ".join(f"{int(i)}={label!r}" for i, label in sorted(id2label.items(), key=lambda kv: int(kv[0])))
        problem = "is not a label" if not matches else "matches several labels"
        raise ValueError(f"{name!r} {problem} of this classifier; available labels: {available}.")
    return matches[0]


def _classifier_max_length(model: Any, tokenizer: Any) -> int | None:
    """The longest input the classifier accepts: tokenizer limit and position embeddings, whichever is smaller."""
    limits = []
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 1_000_000:
        limits.append(tok_max)
    config = getattr(model, "config", None)
    n_pos = getattr(config, "max_position_embeddings", None)
    if isinstance(n_pos, int) and n_pos > 0:
        if "roberta" in str(getattr(config, "model_type", "")):
            n_pos -= (getattr(config, "pad_token_id", 1) or 0) + 1  # RoBERTa positions start after padding_idx
        limits.append(n_pos)
    return min(limits) if limits else None


def classifier_logits(model: Any, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 16) -> torch.Tensor:
    """All class logits ``(n_texts, n_labels)`` on CPU (Lab 3).

    Batched with dynamic padding, under ``no_grad`` in eval mode (training mode restored) on the model's
    device; texts are truncated to the classifier's limit (tokenizer ``model_max_length`` or the position
    embeddings, whichever is smaller).
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings, not one string.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    texts = list(texts)
    n_labels = len(getattr(model.config, "id2label", {})) or int(getattr(model.config, "num_labels", 0))
    if not texts:
        return torch.empty((0, n_labels))
    device = model_device(model)
    max_length = _classifier_max_length(model, tokenizer)
    was_training = model.training
    model.eval()
    out = []
    try:
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                enc = tokenizer(
                    texts[start : start + batch_size],
                    padding=True,
                    truncation=max_length is not None,
                    max_length=max_length,
                    return_tensors="pt",
                )
                enc = {k: v.to(device) for k, v in enc.items()}
                out.append(model(**enc).logits.float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def label_logits(model: Any, tokenizer: Any, texts: Sequence[str], label: str, *, batch_size: int = 16) -> torch.Tensor:
    """The logit of class ``label`` per text, shape ``(n_texts,)`` on CPU (Lab 3's reward: ``"nothate"``)."""
    index = label_id(model.config, label)
    return classifier_logits(model, tokenizer, texts, batch_size=batch_size)[:, index]


def toxicity_probabilities(
    model: Any, tokenizer: Any, texts: Sequence[str], *, toxic_label: str = "hate", batch_size: int = 16
) -> list[float]:
    """Softmax probability of ``toxic_label`` per text, like ``evaluate``'s toxicity measurement (Lab 3)."""
    index = label_id(model.config, toxic_label)
    logits = classifier_logits(model, tokenizer, texts, batch_size=batch_size)
    return logits.softmax(dim=-1)[:, index].tolist()


TOXICITY_AGGREGATIONS: tuple[str, ...] = ("mean", "ratio", "maximum")


def toxicity_aggregate(probabilities: Sequence[float] | np.ndarray, aggregation: str, threshold: float = 0.5) -> dict[str, float]:
    """One aggregate of P(toxic) per text, named as ``evaluate``'s toxicity measurement names it (Lab 3; the package's
    toxicity module returns it): ``"mean"`` -> ``{"toxicity_mean"}``, ``"ratio"`` -> ``{"toxicity_ratio"}`` (the share
    of texts with P >= ``threshold``), ``"maximum"`` -> ``{"max_toxicity"}``."""
    if aggregation not in TOXICITY_AGGREGATIONS:
        raise ValueError(
            f"aggregation must be one of {', '.join(TOXICITY_AGGREGATIONS)} (or None for every value), got {aggregation!r}."
        )
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold is a probability in [0, 1], got {threshold}; evaluate's default is 0.5.")
    arr = _as_float_array(probabilities, "probabilities")
    if aggregation == "mean":
        return {"toxicity_mean": float(arr.mean())}
    if aggregation == "ratio":
        return {"toxicity_ratio": float(np.mean(arr >= threshold))}
    return {"max_toxicity": float(arr.max())}


def toxicity_summary(
    probabilities: Sequence[float] | np.ndarray,
    threshold: float = 0.5,
    *,
    resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Lab 3's toxicity aggregates of P(toxic) per text (``ToxicityReport.summary`` reports these).

    ``mean``; ``std`` (population, as ``np.std``); ``toxicity_ratio``, the share of texts with P >= ``threshold``
    (``evaluate``'s ``aggregation="ratio"``); a bootstrap ``ci_low``/``ci_high`` of the mean; and ``n``.
    """
    ratio = toxicity_aggregate(probabilities, "ratio", threshold)["toxicity_ratio"]
    arr = _as_float_array(probabilities, "probabilities")
    mean, low, high = bootstrap_ci(arr, resamples=resamples, confidence=confidence, seed=seed)
    return {
        "mean": mean,
        "std": float(arr.std()),
        "toxicity_ratio": ratio,
        "ci_low": low,
        "ci_high": high,
        "n": int(arr.size),
    }


# ------------------------------------------------------------------------------------------ topic skill

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize_answer(text: str) -> str:
    """Lower case, punctuation dropped, whitespace collapsed (the topic skill's exact match)."""
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


@dataclass(frozen=True)
class SkillResult:
    """Topic-skill accuracy of one model on held-out dialogues (world build, Lab 2 forgetting)."""

    accuracy: float
    correct: tuple[bool, ...]
    predictions: tuple[str, ...] = field(repr=False)

    @property
    def n(self) -> int:
        """Number of dialogues scored."""
        return len(self.correct)


def skill_accuracy(
    model: Any,
    tokenizer: Any,
    dialogues: Sequence[str],
    topics: Sequence[str],
    *,
    batch_size: int = 64,
    max_new_tokens: int = 16,
    prompt_fn: Callable[[str], str] = topic_prompt,
    progress: bool = False,
) -> SkillResult:
    """Normalized exact-match accuracy of greedy answers to ``prompt_fn(dialogue)`` against ``topics``.

    The skill the tiny world pre-trains (its build checks it) and Lab 2's forgetting probe. Batched through
    :func:`genai_labs.generation.generate_texts`; the model is left as it was.
    """
    if len(dialogues) != len(topics):
        raise ValueError(f"skill_accuracy: {len(dialogues)} dialogues but {len(topics)} topics.")
    predictions = generate_texts(
        model,
        tokenizer,
        [prompt_fn(d) for d in dialogues],
        GenerationConfig(max_new_tokens=max_new_tokens),
        batch_size=batch_size,
        seed=0,
        progress=progress,
    )
    correct = tuple(normalize_answer(p) == normalize_answer(t) for p, t in zip(predictions, topics))
    return SkillResult(sum(correct) / max(1, len(correct)), correct, tuple(predictions))
