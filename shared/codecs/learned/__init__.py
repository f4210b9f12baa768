"""Learned codecs: CompressAI models adapted to N bands, with real, deterministic rANS coding.

Modules: ``architectures`` (N-band models), ``gmm`` (the paper's Gaussian-mixture model),
``coding`` and ``gmm_coding`` (entropy coding), ``payload`` (byte layout), ``manifest`` and
``checkpoint`` (weights on disk), ``codec`` (the registry's Codec classes). Nothing heavy is
imported here: ``import shared.codecs.learned`` does not import torch.
"""
