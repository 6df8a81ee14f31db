"""Shared fixtures and the test tiers.

Fixtures: the tiny world's assets, the real DialogSum when present, course-shaped stand-ins, a word-level tokenizer
builder, one torch thread, and the acceptance tests' clean environment with its own cache folder. Tiers (markers,
registered in pyproject.toml): ``slow`` trains for acceptance numbers, ``notebooks`` is every lab notebook run by
nbval (``--nbval-lax labs``; marked here); the rest is the fast tier, ``pytest -m "not slow and not notebooks"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoTokenizer, PreTrainedTokenizerFast, RobertaForSequenceClassification, T5ForConditionalGeneration

from genai_labs.core.folders import CACHE_ENV, shared_dialogsum_dir
from genai_labs.core.torch_runtime import quiet_transformers, torch_threads
from genai_labs.models import flan_t5_base_config, roberta_hate_classifier_config


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every notebook nbval collects (``--nbval-lax labs``) with ``notebooks``."""
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.notebooks)


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models run fastest (and identically) on one thread, especially on CI's few shared cores; use with
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def acceptance_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The acceptance tests' own cache folder, shared by the acceptance modules of one session (Lab 3 starts from the
    Lab 2 adapter the Lab 2 module trained there), never the learner's default cache."""
    return tmp_path_factory.mktemp("acceptance-cache")


@pytest.fixture(scope="module")
def acceptance_environment(acceptance_cache: Path) -> Iterator[Path]:
    """A clean environment for an acceptance module: no ambient ``GENAI_LABS_*`` variable (a learner's profile or
    override would change the numbers under test) and ``GENAI_LABS_CACHE`` at :func:`acceptance_cache`; restored after
    the module. Module fixtures that load a profile or train take it as an argument, so they run inside it."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("GENAI_LABS_")]:
            patch.delenv(name)
        patch.setenv(CACHE_ENV, str(acceptance_cache))
        yield acceptance_cache


def build_word_tokenizer(
    words: Sequence[str] = (),
    *,
    roberta: bool = False,
    split_punctuation: bool = False,
    model_max_length: int | None = None,
) -> PreTrainedTokenizerFast:
    """A word-level tokenizer: every whitespace-separated word one token (unknown words ``<unk>``), then ``</s>``.

    T5's special ids (``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2) unless ``roberta`` (``<s>`` 0, ``<pad>`` 1, ``</s>`` 2,
    ``<unk>`` 3, texts wrapped in ``<s> ... </s>``); ``split_punctuation`` also splits punctuation off words.
    """
    specials = ("<s>", "<pad>", "</s>", "<unk>") if roberta else ("<pad>", "</s>", "<unk>")
    vocab = {token: i for i, token in enumerate([*specials, *words])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace() if split_punctuation else pre_tokenizers.WhitespaceSplit()
    template = "<s> $A </s>" if roberta else "$A </s>"
    tok.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(token, vocab[token]) for token in ("<s>", "</s>") if token in template]
    )
    extra = {"bos_token": "<s>"} if roberta else {}
    if model_max_length is not None:
        extra["model_max_length"] = model_max_length
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", **extra)


@pytest.fixture(scope="session")
def word_tokenizer():
    """:func:`build_word_tokenizer`: tests call it with their own words."""
    return build_word_tokenizer


@pytest.fixture(scope="session")
def world_assets():
    """The tiny world's tokenizer, model and classifier: the committed ``data/world-models/``."""
    from genai_labs.core.folders import WORLD_MODELS_DIR
    from genai_labs.world.assets import WorldAssets

    return WorldAssets.at(WORLD_MODELS_DIR)


@pytest.fixture(scope="session")
def real_dialogsum_dir() -> Path:
    """``../shared/datasets/dialogsum`` (the real DialogSum); tests using it skip where it is absent."""
    folder = shared_dialogsum_dir()
    if not (folder / "train.jsonl").is_file():
        pytest.skip(f"the real DialogSum is not at {folder}")
    return folder


@pytest.fixture(scope="session")
def course_standins(tmp_path_factory: pytest.TempPathFactory, world_assets) -> dict[str, Path]:
    """Folders with randomly initialised models of the course's exact architectures (no hub needed).

    ``model``: google/flan-t5-base's config (``genai_labs.models.flan_t5_base_config``: gated-gelu, untied lm_head,
    12+12 layers, d_model 768); ``reward_model``: facebook/roberta-hate-speech-dynabench-r4-target's shape with
    ``id2label {0: nothate, 1: hate}``. Both use the tiny world's tokenizers, and both load through the same functions
    as hub ids.
    """
    root = tmp_path_factory.mktemp("course_standins")
    torch.manual_seed(0)
    t5 = T5ForConditionalGeneration(flan_t5_base_config())
    t5.lm_head.weight = torch.nn.Parameter(t5.shared.weight.detach().clone() * 0.5)
    with quiet_transformers():
        t5.save_pretrained(root / "flan-t5-base")
    AutoTokenizer.from_pretrained(world_assets.t5_dir).save_pretrained(root / "flan-t5-base")
    del t5
    with quiet_transformers():
        RobertaForSequenceClassification(roberta_hate_classifier_config()).save_pretrained(root / "roberta-hate")
    AutoTokenizer.from_pretrained(world_assets.reward_dir).save_pretrained(root / "roberta-hate")
    return {"model": root / "flan-t5-base", "reward_model": root / "roberta-hate"}
