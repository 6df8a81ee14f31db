"""genai-labs: the three labs of "Generative AI with Large Language Models", rebuilt and measured.

Layers, lowest first (checked by import-linter, ``lint-imports``): ``core`` (profiles, overrides, sources, runtime
helpers, atomic files); the shared pieces (``models``, ``prompts``, ``generation``, ``metrics``, ``plots``,
``training_loop``, ``toxicity_classifier``); ``world`` (the tiny world); ``data`` (DialogSum from the hub, a folder or
the world); the labs ``lab1``, ``lab2``, ``lab3``; and ``instructor`` (the ``genai-labs`` command). The benchmark
suite lives outside the package, in the checkout's ``benchmarks/``.
"""
