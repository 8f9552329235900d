"""Deterministic sample source data in the shapes of ``docs/source-formats.md``.

``include.sample.generate.generate_sample`` writes a local source folder (``onedrive/``,
``dataverse/``) plus ``manifest.json`` listing exactly which records are deliberately bad.
"""
