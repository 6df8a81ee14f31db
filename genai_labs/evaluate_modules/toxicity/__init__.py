"""The package's toxicity as an ``evaluate`` measurement (``toxicity.py``; ``evaluate.load(toxicity_module_path(), ...)``)."""
