"""Instructor tooling, out of the learners' way: the ``genai-labs`` command (``cli``), headless runs of the lab
notebooks (``runner``), their ``figures.json`` and ``report.md`` (``report``) and the cache listing (``cache``)."""
