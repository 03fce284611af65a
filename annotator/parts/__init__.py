"""Stage 4 of ``vrai-annotate``: discriminative parts drawn on the enlarged crop.

Imports nothing at package level (see :mod:`annotator.attributes`).
"""
