"""The miniature world of the ``tiny`` profile: a seeded generator of DialogSum-style dialogues and toxicity texts
(``dialogues``, ``toxicity_texts``, written by ``data_files``), a T5-style tokenizer (``tokenizer``), the tiny
FLAN-T5's pre-training (``pretraining``) and the cached build of its models (``assets``). Imports only ``core`` and the
shared pieces."""
