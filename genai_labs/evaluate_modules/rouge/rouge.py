"""ROUGE as an ``evaluate`` metric, offline: a thin wrapper of ``genai_labs.metrics.rouge_scores`` (all labs).

Load it with ``evaluate.load(genai_labs.evaluate_modules.rouge_module_path())``; it needs no hub. ``compute`` takes
the arguments of the hub's ``rouge`` module:

* ``predictions``: a list of strings; ``references``: one string, or a list of strings, per prediction (several
  references: each metric takes the best-scoring one, as ``rouge_score``'s ``score_multi`` and the hub module do);
* ``rouge_types`` (default ``rouge1``, ``rouge2``, ``rougeL``, ``rougeLsum``), ``use_stemmer``;
* ``use_aggregator``: True gives the mean F-measure of each type, False a list of per-example F-measures.

Two differences from the hub module, both the package's conventions: the aggregate is the plain mean, not
``rouge_score``'s bootstrap median of means (the package puts its own bootstrap intervals on top), and
``use_stemmer`` defaults to True, the course's setting (the hub module's default is False).
"""

import datasets
import evaluate

from genai_labs.metrics import ROUGE_TYPES, rouge_scores

_DESCRIPTION = "ROUGE F-measures (rouge_score), one or several references per prediction; genai_labs' offline module."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of predictions to score.
    references: one reference, or a list of references, per prediction.
    rouge_types: ROUGE types to compute (default: rouge1, rouge2, rougeL, rougeLsum).
    use_aggregator: True (default): the mean F-measure of each type; False: one F-measure per example.
    use_stemmer: Porter-stem words before matching (default True, the course's setting).
Returns:
    {rouge_type: mean F-measure} or {rouge_type: [F-measure per example]}.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Rouge(evaluate.Metric):
    """ROUGE by ``genai_labs.metrics.rouge_scores``."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Lin, 2004: ROUGE: A Package for Automatic Evaluation of Summaries.",
            inputs_description=_KWARGS_DESCRIPTION,
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Sequence(datasets.Value("string", id="sequence")),
                    }
                ),
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Value("string", id="sequence"),
                    }
                ),
            ],
        )

    def _compute(self, predictions, references, rouge_types=None, use_aggregator=True, use_stemmer=True):
        types = list(rouge_types or ROUGE_TYPES)
        frame = rouge_scores(predictions, references, use_stemmer=use_stemmer, rouge_types=types)
        if use_aggregator:
            return {key: float(frame[key].mean()) for key in types}
        return {key: frame[key].tolist() for key in types}
