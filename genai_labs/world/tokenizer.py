"""The tiny world's T5-style unigram tokenizer (all labs, ``tiny`` profile).

Trained with the ``tokenizers`` library on the world's own text (dialogues, summaries, toxicity texts and
the prompt templates) and wrapped as a transformers ``TokenizersBackend`` (transformers 5's fast
tokenizer class; ``PreTrainedTokenizerFast`` is the same class), so ``save_pretrained`` writes a
``tokenizer.json`` that ``AutoTokenizer.from_pretrained`` reloads exactly, offline.

T5 conventions: ``<pad>`` = 0, ``</s>`` = 1 (appended to every sequence), ``<unk>`` = 2, then the learned
pieces, then the sentinels ``<extra_id_{n-1}>`` ... ``<extra_id_0>`` at the very end of the vocabulary.

Newlines: FLAN-T5's SentencePiece tokenizer silently turns "\\n" into a space. The tiny world keeps them:
"\\n" is always its own piece, the first word of a line carries no "▁" (like the first word of a text),
so ``decode(encode(text))`` gives the text back character for character (prompts, ``#Person1#:`` turns
and their line breaks included). The model thus sees where turns start, and the course's prompt
variants that differ only in newlines stay distinguishable.

Whole words: a unigram vocabulary of 2,000 pieces learned on the world's text still spells many of its names and
values in pieces (``Royal`` was ``▁Ro y a l``, ``a`` after a space two pieces, ``$800`` was ``▁$80 0``), so copying
one fact from the dialogue into a summary took the model several dependent steps. The world's whole vocabulary is
about 1,150 words, so every word seen ``whole_word_min_count`` times (trailing punctuation stripped) is made a piece
of its own, scored like the best learned piece: a known word is always one token, and anything else still falls
back to the learned pieces. This is what lets the tiny model copy a name, a place or a price in one step.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tokenizers import AddedToken, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram
from tokenizers.trainers import UnigramTrainer
from transformers import TokenizersBackend

from genai_labs.prompts import flan_prompt, instruction_prompt, ppo_prompt, topic_prompt, training_prompt

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, EOS, UNK)  # ids 0, 1, 2 as in T5
METASPACE = "▁"
TAIL_BAND = 0.01  # the trainer's appended characters sit within 1e-4 * (number of characters) of the floor


@dataclass(frozen=True)
class TokenizerConfig:
    """Size of the world tokenizer (the unigram vocabulary saturates near 2k pieces on the world text)."""

    vocab_size: int = 2000  # learned pieces incl. the 3 special tokens, before the whole words and the sentinels
    n_sentinels: int = 32  # <extra_id_0> ... <extra_id_31>, at the end of the vocabulary
    model_max_length: int = 512
    max_piece_length: int = 16
    whole_word_min_count: int = 3  # words seen this often become pieces of their own (0: no whole-word pieces)


def sentinel_tokens(n: int) -> list[str]:
    """T5 sentinel names ``<extra_id_0>`` ... ``<extra_id_{n-1}>`` (span corruption, all labs' tiny model)."""
    return [f"<extra_id_{i}>" for i in range(n)]


def world_corpus(texts: Iterable[str]) -> list[str]:
    """The tokenizer's training text: the given texts plus each prompt template once (so its words are pieces)."""
    corpus = list(texts)
    corpus += [template("").strip() for template in (instruction_prompt, training_prompt, ppo_prompt, flan_prompt, topic_prompt)]
    corpus += ["Question: What is the name of #Person1#?", "Question: What is the name of #Person2#?"]
    return corpus


def _backend(config: TokenizerConfig) -> Tokenizer:
    """An untrained unigram pipeline: NFKC, newline pieces, Metaspace words (no prefix at text/line start)."""
    tok = Tokenizer(Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split("\n", behavior="isolated"),
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="never", split=True),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="never", split=True)
    return tok


def canonical_vocab(tok: Tokenizer, decimals: int = 6) -> list[tuple[str, float]]:
    """The trained unigram vocabulary with rounded scores in a fixed order (specials first).

    The ``tokenizers`` unigram trainer sums floats in hash-map order, so two runs differ in the last bits
    of the scores, and it appends the rare required characters with made-up decreasing scores in hash
    order. Rounding the scores, giving the appended characters one shared score and sorting makes the
    build bit-reproducible.
    """
    vocab = [(piece, float(score)) for piece, score in json.loads(tok.to_str())["model"]["vocab"]]
    pieces = [(piece, round(score, decimals)) for piece, score in vocab if piece not in SPECIAL_TOKENS]
    floor = min(score for _, score in pieces)
    in_tail = lambda piece, score: len(piece) == 1 and score < floor + TAIL_BAND
    pieces = [(piece, floor if in_tail(piece, score) else score) for piece, score in pieces]
    specials = [(piece, 0.0) for piece in SPECIAL_TOKENS]
    return specials + sorted(pieces, key=lambda item: (-item[1], item[0]))


TRAILING_PUNCTUATION = re.compile(r"[.,?!:;]+$")


def whole_words(texts: Iterable[str], min_count: int) -> list[str]:
    """Every word of ``texts`` seen at least ``min_count`` times, trailing punctuation stripped, sorted."""
    counts = Counter(TRAILING_PUNCTUATION.sub("", word) for text in texts for word in text.split())
    return sorted(word for word, count in counts.items() if word and count >= min_count)


def with_whole_words(vocab: list[tuple[str, float]], words: Sequence[str]) -> list[tuple[str, float]]:
    """``vocab`` (specials first) with every word a piece, at the word start (``▁word``) and at a line start
    (``word``), scored like the best learned piece, so that a segmentation never splits it."""
    best = max(score for piece, score in vocab[len(SPECIAL_TOKENS) :])
    wanted = {piece for word in words for piece in (METASPACE + word, word)}
    learned = [(piece, best if piece in wanted else score) for piece, score in vocab[len(SPECIAL_TOKENS) :]]
    known = {piece for piece, _ in learned}
    added = [(piece, best) for piece in sorted(wanted - known)]
    return vocab[: len(SPECIAL_TOKENS)] + added + learned


def train_world_tokenizer(texts: Sequence[str], config: TokenizerConfig = TokenizerConfig()) -> TokenizersBackend:
    """Train the T5-style unigram tokenizer on ``texts`` (deterministic) and wrap it for transformers.

    Used by the tiny world build (all labs load it back with ``AutoTokenizer``).
    """
    tok = _backend(config)
    trainer = UnigramTrainer(
        vocab_size=config.vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        unk_token=UNK,
        max_piece_length=config.max_piece_length,
        show_progress=False,
    )
    corpus = world_corpus(texts)
    tok.train_from_iterator(corpus, trainer=trainer)
    vocab = canonical_vocab(tok)
    if config.whole_word_min_count:
        vocab = with_whole_words(vocab, whole_words(corpus, config.whole_word_min_count))
    tok.model = Unigram(vocab, unk_id=SPECIAL_TOKENS.index(UNK), byte_fallback=False)
    sentinels = sentinel_tokens(config.n_sentinels)
    # T5 layout: the highest sentinel first, <extra_id_0> is the last id of the vocabulary.
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in reversed(sentinels)])
    eos_id = tok.token_to_id(EOS)
    tok.post_processor = processors.TemplateProcessing(
        single=["$A", EOS], pair=["$A", EOS, "$B", EOS], special_tokens=[(EOS, eos_id)]
    )
    wrapped = TokenizersBackend(
        tokenizer_object=tok,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        extra_special_tokens=sentinels,
        clean_up_tokenization_spaces=False,
        model_max_length=config.model_max_length,
    )
    assert (wrapped.pad_token_id, wrapped.eos_token_id, wrapped.unk_token_id) == (0, 1, 2)
    return wrapped


def sentinel_ids(tokenizer: TokenizersBackend, n: int) -> list[int]:
    """Ids of ``<extra_id_0>`` ... ``<extra_id_{n-1}>`` (descending, as in T5)."""
    return tokenizer.convert_tokens_to_ids(sentinel_tokens(n))
