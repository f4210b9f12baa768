"""Learned codecs: CompressAI models adapted to N bands, with real, deterministic rANS coding.

Modules: ``architectures`` (N-band models), ``gmm`` (the paper's Gaussian-mixture model),
``coding`` and ``gmm_coding`` (entropy coding), ``payload`` (byte layout), ``manifest`` and
``checkpoint`` (weights on disk), ``codec`` (the registry's Codec classes). Nothing heavy is
imported here: ``import shared.codecs.learned`` does not import torch; it installs the finder
that loads CompressAI without its point-cloud half (:mod:`.compressai_lite`).
"""

from shared.codecs.learned import compressai_lite

compressai_lite.install()  # CompressAI's image half only, when it is first imported
