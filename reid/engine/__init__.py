"""The ReID engine: plain functions for training, feature extraction, evaluation and checkpoints.

``train_one_epoch`` (``train``), ``extract_features`` (``extract``), ``save_checkpoint`` /
``load_checkpoint`` (``checkpoint``), the whole run (``fit.train``), the whole evaluation
(``evaluate.evaluate_run``). Import the submodules directly.
"""
