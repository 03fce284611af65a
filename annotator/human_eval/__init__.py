"""The human-performance mode of ``vrai-annotate`` (paper §5.6, Table 6): ``--human-eval``.

The trials and the scoring are Qt-free, in :mod:`vrai_tools.human_eval`; this package
is the window a person answers in.
"""
