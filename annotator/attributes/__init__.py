"""Stage 3 of ``vrai-annotate``: vehicle attributes, set once per vehicle, overridable per instance.

Imports nothing at package level: the shell's stage and action tables import
:mod:`annotator.attributes.stage` and :mod:`annotator.attributes.keys`, and neither may
pull Qt widgets (or torch) in before the shell is ready.
"""
