"""Tests for genai_labs.generation (batched seeded generation, config checks) and genai_labs.lab1.sampling."""

from __future__ import annotations

import math

import matplotlib
import pytest
import torch
from transformers import GenerationConfig, PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from genai_labs.generation import (
    LongPromptWarning,
    PromptTooLongError,
    generate_one_by_one,
    generate_texts,
    validate_generation_config,
)
from genai_labs.lab1.sampling import (
    apply_temperature,
    plot_next_token_distributions,
    sampling_distribution,
    top_k_mask,
    top_p_mask,
)
from genai_labs.prompts import RELATIVE_POSITION_READ_LIMIT, read_limit

matplotlib.use("Agg")

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "ran",
    "to",
    "park",
    "and",
    "then",
    "saw",
    "bird",
    "big",
    "small",
    "red",
    "blue",
    "green",
    "house",
    "tree",
]
INF = float("inf")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tokenizer(word_tokenizer) -> PreTrainedTokenizerFast:
    return word_tokenizer(WORDS, split_punctuation=True, model_max_length=32)


@pytest.fixture(scope="module")
def model(tokenizer: PreTrainedTokenizerFast) -> T5ForConditionalGeneration:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
        initializer_factor=5.0,  # larger random weights: varied, non-degenerate greedy outputs
    )
    return T5ForConditionalGeneration(config).eval()


PROMPTS = [
    "the cat sat on the mat",
    "dog",
    "a big red house and a small green tree then a bird saw the park",
    "then the dog ran to the park",
    "blue bird",
    "the small cat saw a big dog and ran to the house",
    "red",
]


# ------------------------------------------------------------------------------------------ sampling


def test_temperature_divides_logits() -> None:
    logits = torch.tensor([2.0, 1.0, 0.0])
    assert torch.equal(apply_temperature(logits, 0.5), torch.tensor([4.0, 2.0, 0.0]))
    assert torch.equal(apply_temperature(logits, 1.0), logits)
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(logits, 0.0)


def test_top_k_keeps_ties_at_kth_value() -> None:
    logits = torch.tensor([3.0, 1.0, 2.0, 2.0, 0.0])
    assert torch.equal(top_k_mask(logits, 2), torch.tensor([3.0, -INF, 2.0, 2.0, -INF]))
    assert torch.equal(top_k_mask(logits, 1), torch.tensor([3.0, -INF, -INF, -INF, -INF]))
    assert torch.equal(top_k_mask(logits, 0), logits)  # off
    assert torch.equal(top_k_mask(logits, 99), logits)  # k > vocab
    with pytest.raises(ValueError, match="top_k"):
        top_k_mask(logits, -1)


def test_top_p_hand_computed() -> None:
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits = probs.log()
    # ascending cumulative: 0.05, 0.20, 0.50, 1.0; removed where <= 1 - p
    kept = torch.isfinite(top_p_mask(logits, 0.8))  # 1-p = 0.2: drops 0.05 and 0.15
    assert kept.tolist() == [True, True, False, False]
    kept = torch.isfinite(top_p_mask(logits, 0.9))  # 1-p = 0.1: drops 0.05 only
    assert kept.tolist() == [True, True, True, False]
    kept = torch.isfinite(top_p_mask(logits, 0.01))  # min_tokens_to_keep=1 keeps the top token
    assert kept.tolist() == [True, False, False, False]
    assert torch.equal(top_p_mask(logits, 1.0), logits)  # top_p=1 keeps everything
    with pytest.raises(ValueError, match="top_p"):
        top_p_mask(logits, 0.0)
    with pytest.raises(ValueError, match="top_p"):
        top_p_mask(logits, 1.5)


def test_top_p_keeps_tiny_probabilities_at_one() -> None:
    logits = torch.tensor([0.0, -200.0])  # second token's probability underflows to 0 in float32
    assert sampling_distribution(logits, top_p=1.0)[1] == 0.0
    assert torch.isfinite(top_p_mask(logits, 1.0)).all()


def test_sampling_distribution_hand_computed() -> None:
    logits = torch.tensor([2.0, 1.0, 1.0, -1.0])
    probs = sampling_distribution(logits, temperature=1.0, top_k=2)  # tie at the 2nd value: 3 tokens kept
    z = math.exp(2) + 2 * math.exp(1)
    assert probs.tolist() == pytest.approx([math.exp(2) / z, math.exp(1) / z, math.exp(1) / z, 0.0])
    greedy_like = sampling_distribution(logits, temperature=0.01)
    assert greedy_like[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "temperature,top_k,top_p",
    [(1.0, 0, 1.0), (0.7, 0, 1.0), (1.5, 5, 1.0), (1.0, 0, 0.9), (0.5, 10, 0.8), (2.0, 3, 0.5), (1.0, 1, 0.95)],
)
def test_matches_transformers_warpers(temperature: float, top_k: int, top_p: float) -> None:
    torch.manual_seed(1)
    logits = torch.randn(3, 50) * 3
    logits[:, 7] = logits[:, 8]  # a tie
    processors = LogitsProcessorList()
    if temperature != 1.0:  # generate()'s rules for adding each warper
        processors.append(TemperatureLogitsWarper(temperature))
    if top_k != 0:
        processors.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
    if top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
    expected = processors(torch.zeros(3, 1, dtype=torch.long), logits.clone()).softmax(dim=-1)
    ours = sampling_distribution(logits, temperature, top_k, top_p)
    assert torch.equal(ours, expected)
    for row in range(3):  # 1-D logits give the same rows
        assert torch.equal(sampling_distribution(logits[row], temperature, top_k, top_p), expected[row])


def test_plot_next_token_distributions(tokenizer: PreTrainedTokenizerFast) -> None:
    logits = torch.randn(len(tokenizer), generator=torch.Generator().manual_seed(0))
    settings = [{"temperature": 1.0}, {"temperature": 0.5, "top_k": 5}, {"top_p": 0.9, "label": "nucleus"}]
    ax = plot_next_token_distributions(tokenizer, logits, settings, top=10)
    assert len(ax.patches) == 30
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "nucleus"
    with pytest.raises(ValueError, match="unknown keys"):
        plot_next_token_distributions(tokenizer, logits, [{"temp": 1.0}])
    matplotlib.pyplot.close("all")


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "field,value,kwargs",
    [
        ("temperature", 0.0, {"do_sample": True}),
        ("temperature", -1.0, {"do_sample": True}),
        ("top_p", 1.5, {"do_sample": True}),
        ("top_p", 0.0, {"do_sample": True}),
        ("top_k", -1, {"do_sample": True}),
        ("max_new_tokens", 0, {}),
        ("num_beams", 0, {}),
    ],
)
def test_validate_generation_config_names_field(field: str, value: float, kwargs: dict) -> None:
    cfg = GenerationConfig(max_new_tokens=5, **kwargs)
    setattr(cfg, field, value)
    with pytest.raises(ValueError, match=field):
        validate_generation_config(cfg)


def test_validate_accepts_good_configs() -> None:
    validate_generation_config(GenerationConfig(max_new_tokens=5))
    validate_generation_config(GenerationConfig(max_new_tokens=5, do_sample=True, temperature=0.1, top_k=0, top_p=1.0))
    cfg = GenerationConfig(max_new_tokens=5)
    assert validate_generation_config(cfg) is cfg  # returns the config it checked
    with pytest.raises(ValueError, match="temperature"):
        validate_generation_config(GenerationConfig(do_sample=True, temperature=0.0))
    with pytest.raises(TypeError, match="GenerationConfig"):
        validate_generation_config({"max_new_tokens": 5})  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- generation


def test_batched_greedy_equals_one_by_one(model, tokenizer) -> None:
    cfg = GenerationConfig(max_new_tokens=8)
    one_by_one = generate_one_by_one(model, tokenizer, PROMPTS, cfg, progress=False)
    assert len(set(one_by_one)) > 2, "tiny model should give varied outputs"
    for batch_size in (3, 16):
        assert generate_texts(model, tokenizer, PROMPTS, cfg, batch_size=batch_size, progress=False) == one_by_one


def test_order_restored(model, tokenizer) -> None:
    cfg = GenerationConfig(max_new_tokens=6)
    forward = generate_texts(model, tokenizer, PROMPTS, cfg, batch_size=2, progress=False)
    backward = generate_texts(model, tokenizer, PROMPTS[::-1], cfg, batch_size=2, progress=False)
    assert backward == forward[::-1]
    assert generate_texts(model, tokenizer, [], cfg, progress=False) == []


def test_seeded_sampling_is_reproducible(model, tokenizer) -> None:
    cfg = GenerationConfig(max_new_tokens=8, do_sample=True, temperature=1.5)
    runs = [generate_texts(model, tokenizer, PROMPTS, cfg, batch_size=3, seed=7, progress=False) for _ in range(2)]
    assert runs[0] == runs[1]
    other = generate_texts(model, tokenizer, PROMPTS, cfg, batch_size=3, seed=8, progress=False)
    assert other != runs[0]


def test_several_samples_per_prompt_come_in_prompt_order(model, tokenizer) -> None:
    cfg = GenerationConfig(max_new_tokens=8, do_sample=True, temperature=1.5)
    texts = generate_texts(model, tokenizer, PROMPTS, cfg, batch_size=3, seed=7, progress=False, samples_per_prompt=4)
    assert len(texts) == 4 * len(PROMPTS)
    again = generate_texts(model, tokenizer, PROMPTS, cfg, batch_size=3, seed=7, progress=False, samples_per_prompt=4)
    assert texts == again  # seeded
    reverse = generate_texts(model, tokenizer, PROMPTS[::-1], cfg, batch_size=len(PROMPTS), seed=7, progress=False,
                             samples_per_prompt=4)  # fmt: skip
    assert len(reverse) == len(texts)
    one = generate_texts(model, tokenizer, PROMPTS[:1], cfg, seed=7, progress=False, samples_per_prompt=4)
    assert len(set(one)) > 1  # four draws, not one draw copied
    with pytest.raises(ValueError, match="needs a sampling config"):
        generate_texts(model, tokenizer, PROMPTS, GenerationConfig(max_new_tokens=3), progress=False, samples_per_prompt=2)
    with pytest.raises(ValueError, match="samples_per_prompt"):
        generate_texts(model, tokenizer, PROMPTS, cfg, progress=False, samples_per_prompt=0)


def test_training_mode_restored(model, tokenizer) -> None:
    model.train()
    try:
        generate_texts(model, tokenizer, PROMPTS[:2], GenerationConfig(max_new_tokens=3), progress=False)
        assert model.training
    finally:
        model.eval()
    generate_texts(model, tokenizer, PROMPTS[:2], GenerationConfig(max_new_tokens=3), progress=False)
    assert not model.training


def test_long_prompt_is_read_whole_up_to_the_read_limit_then_raises(model, tokenizer) -> None:
    """A T5 (relative positions) reads a prompt past its trained context whole, with a warning that counts such
    prompts; past the read limit (or an explicit max_input_tokens) it raises and never truncates."""
    cfg = GenerationConfig(max_new_tokens=3)
    long_prompt = " ".join(["cat"] * 40)  # 41 tokens with </s>, trained context 32
    with pytest.warns(LongPromptWarning, match=r"1 of 2 prompts are longer than the 32 tokens .* \(longest 41\)"):
        out = generate_texts(model, tokenizer, ["dog", long_prompt], cfg, progress=False)
    assert len(out) == 2
    too_long = " ".join(["cat"] * RELATIVE_POSITION_READ_LIMIT)  # one token over the read limit
    with pytest.raises(PromptTooLongError, match=rf"prompts\[1\] has {RELATIVE_POSITION_READ_LIMIT + 1} tokens"):
        generate_texts(model, tokenizer, ["dog", too_long], cfg, progress=False)
    with pytest.raises(PromptTooLongError, match=r"prompts\[0\] has 7 tokens .* 5 tokens"):
        generate_texts(model, tokenizer, PROMPTS, cfg, max_input_tokens=5, progress=False)
    with pytest.raises(PromptTooLongError, match=r"prompts\[1\]"):
        generate_one_by_one(model, tokenizer, ["dog", long_prompt], cfg, max_input_tokens=32, progress=False)
    out = generate_texts(model, tokenizer, [long_prompt], cfg, max_input_tokens=64, progress=False)
    assert len(out) == 1


def test_generate_texts_validates(model, tokenizer) -> None:
    cfg = GenerationConfig(max_new_tokens=3, do_sample=True)
    cfg.top_p = 2.0
    with pytest.raises(ValueError, match="top_p"):
        generate_texts(model, tokenizer, PROMPTS, cfg, progress=False)
    with pytest.raises(TypeError, match="list of strings"):
        generate_texts(model, tokenizer, "the cat", GenerationConfig(max_new_tokens=3), progress=False)


def test_read_limit_depends_on_the_position_scheme(model, tokenizer) -> None:
    """Relative positions (T5) read past the trained context up to the stated limit; an absolute-position model (no
    relative buckets) stops at it; an explicit max_input_tokens always wins."""
    assert read_limit(model, tokenizer) == RELATIVE_POSITION_READ_LIMIT
    assert read_limit(torch.nn.Linear(1, 1), tokenizer) == 32
    assert read_limit(model, tokenizer, 40) == 40
