"""Shared fixtures: the tiny world's assets, the real DialogSum when present, course-shaped stand-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DIALOGSUM = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "dialogsum"


@pytest.fixture(scope="session")
def world_assets():
    """The tiny world's tokenizer, model and classifier (built once, cached)."""
    from genai_labs.world.assets import ensure_world_assets

    return ensure_world_assets(progress=False)


@pytest.fixture(scope="session")
def real_dialogsum_dir() -> Path:
    """``../shared/datasets/dialogsum`` (the real DialogSum); tests using it skip where it is absent."""
    if not (SHARED_DIALOGSUM / "train.jsonl").is_file():
        pytest.skip("the real DialogSum is not at ../shared/datasets/dialogsum")
    return SHARED_DIALOGSUM


@pytest.fixture(scope="session")
def course_standins(tmp_path_factory: pytest.TempPathFactory, world_assets) -> dict[str, Path]:
    """Folders with randomly initialised models of the course's exact architectures (no hub needed).

    ``model``: google/flan-t5-base's config (gated-gelu, untied lm_head, 12+12 layers, d_model 768);
    ``reward_model``: roberta-base's shape with ``id2label {0: nothate, 1: hate}`` like
    facebook/roberta-hate-speech-dynabench-r4-target. Both use the tiny world's tokenizer, and both load
    through the same functions as hub ids.
    """
    import torch
    from transformers import AutoTokenizer, RobertaConfig, RobertaForSequenceClassification, T5Config, T5ForConditionalGeneration

    from genai_labs.models import quiet_transformers

    root = tmp_path_factory.mktemp("course_standins")
    torch.manual_seed(0)
    t5_config = T5Config(
        vocab_size=32128, d_model=768, d_ff=2048, d_kv=64, num_layers=12, num_decoder_layers=12, num_heads=12,
        feed_forward_proj="gated-gelu", dropout_rate=0.1, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1,
        tie_word_embeddings=False,  # FLAN-T5 (T5 v1.1): no decoder-output scaling, lm_head untied below
    )
    t5 = T5ForConditionalGeneration(t5_config)
    t5.lm_head.weight = torch.nn.Parameter(t5.shared.weight.detach().clone() * 0.5)
    with quiet_transformers():
        t5.save_pretrained(root / "flan-t5-base")
    AutoTokenizer.from_pretrained(world_assets.t5_dir).save_pretrained(root / "flan-t5-base")
    del t5

    rb_config = RobertaConfig(
        vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, num_labels=2,
        id2label={0: "nothate", 1: "hate"}, label2id={"nothate": 0, "hate": 1},
    )
    with quiet_transformers():
        RobertaForSequenceClassification(rb_config).save_pretrained(root / "roberta-hate")
    AutoTokenizer.from_pretrained(world_assets.reward_dir).save_pretrained(root / "roberta-hate")
    return {"model": root / "flan-t5-base", "reward_model": root / "roberta-hate"}
