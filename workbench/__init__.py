"""Research and operator tooling around the two services: the ``eodl`` CLI, training,
experiments, benchmarks, synthetic and real datasets, the demo and the link fault proxy.

It may import ``shared``, ``satellite_node`` and ``ground_station``; nothing in them imports it
(the import contracts in ``pyproject.toml`` keep this so).
"""
