"""The package's ROUGE as an ``evaluate`` metric (``rouge.py``; load it with ``evaluate.load(rouge_module_path())``)."""
