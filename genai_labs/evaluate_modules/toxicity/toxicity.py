"""Toxicity as an ``evaluate`` measurement, offline: a thin wrapper of ``genai_labs.metrics.toxicity_probabilities`` (Lab 3).

The hub's ``toxicity`` measurement (what the course loaded) scores each text with a hate-speech classifier and
returns the probability of the toxic label. This one does the same with the package's functions, so no hub is needed:

* load it with the classifier already in memory, ``evaluate.load(toxicity_module_path(), module_type="measurement",
  model=model, tokenizer=tokenizer)``, or name a classifier as ``config_name`` (a local folder or a hub id, loaded with
  ``AutoModelForSequenceClassification``; the default is the course's ``facebook/roberta-hate-speech-dynabench-r4-target``);
* ``compute(predictions=texts, toxic_label="hate", aggregation=None, threshold=0.5)``: the label is found by name in
  the classifier's ``id2label``, never by position. ``aggregation``: None or ``"all"``: ``{"toxicity": [P per text]}``;
  ``"mean"``: ``{"toxicity_mean"}``; ``"ratio"``: ``{"toxicity_ratio"}``, the share of texts with P >= ``threshold``;
  ``"maximum"``: ``{"max_toxicity"}`` (the hub module's three, plus the mean).
"""

import datasets
import evaluate
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from genai_labs.metrics import toxicity_aggregate, toxicity_probabilities

COURSE_CLASSIFIER = "facebook/roberta-hate-speech-dynabench-r4-target"
_DESCRIPTION = "P(toxic label) of each text under a hate-speech classifier; genai_labs' offline toxicity measurement."
_KWARGS_DESCRIPTION = """
Args:
    predictions: list of texts to score.
    toxic_label: the classifier's toxic label, found by name in id2label (default "hate").
    aggregation: None/"all" (one probability per text), "mean", "ratio" or "maximum".
    threshold: the probability at or above which a text counts as toxic for "ratio" (default 0.5).
Returns:
    {"toxicity": [...]}, {"toxicity_mean": ...}, {"toxicity_ratio": ...} or {"max_toxicity": ...}.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Toxicity(evaluate.Measurement):
    """Toxicity by ``genai_labs.metrics.toxicity_probabilities``."""

    def __init__(self, *args, model=None, tokenizer=None, **kwargs):
        if (model is None) != (tokenizer is None):
            raise ValueError("Pass both model= and tokenizer= (a classifier in memory), or neither (config_name names one).")
        self.classifier, self.classifier_tokenizer = model, tokenizer
        super().__init__(*args, **kwargs)

    def _info(self):
        return evaluate.MeasurementInfo(
            module_type="measurement",
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features({"predictions": datasets.Value("string", id="sequence")}),
        )

    def _download_and_prepare(self, dl_manager):
        if self.classifier is None:
            name = COURSE_CLASSIFIER if self.config_name == "default" else self.config_name
            self.classifier_tokenizer = AutoTokenizer.from_pretrained(name)
            self.classifier = AutoModelForSequenceClassification.from_pretrained(name).eval()

    def _compute(self, predictions, toxic_label="hate", aggregation=None, threshold=0.5):
        scores = toxicity_probabilities(self.classifier, self.classifier_tokenizer, predictions, toxic_label=toxic_label)
        if aggregation in (None, "all"):
            return {"toxicity": scores}
        return toxicity_aggregate(scores, aggregation, threshold)
