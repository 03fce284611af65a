"""The discriminative-part detector (paper §4.2, §5.3): torchvision FCOS by default, one class.

``model`` builds it, ``data`` cuts instance crops with their part boxes, ``train`` runs
``vrai-tools train-detector``, ``evaluate`` holds the paper's P/R/F and AP@0.5 as pure
functions, ``predict`` writes the top-3 boxes per instance for ``vrai-tools detect-parts``
(the file the weighted pooling of ``multitask+dp`` reads), ``figures`` draws Figure 7.
Submodules are imported on demand, so importing this package loads no torch.
"""
