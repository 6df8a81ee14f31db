"""What every lab stands on: the profiles and their checks (``profiles``, ``validation``), ``GENAI_LABS_*`` overrides
(``overrides``), where models and data come from (``sources``), folders and the cache (``folders``), torch runtime
helpers (``torch_runtime``), atomic files and locks (``atomic_io``) and the figures a lab records (``run_figures``)."""
