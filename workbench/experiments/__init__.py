"""The paper's study, reproduced: baseline, rate-distortion, segmentation under compression and
joint optimisation, each resumable, writing CSV, PNG plots and a markdown section.

Import the submodules (``workbench.experiments.catalog`` runs an experiment by name); this package
imports nothing heavy on its own.
"""
