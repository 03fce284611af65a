"""Stage 2 of ``vrai-annotate``: cross-camera matching (document, views, ranking worker).

Importing this package imports nothing from Qt or torch; its modules do.
"""
