"""The ground station: receives signed, chunked transfers, decodes, segments and records them.

Layout: ``settings`` (GS_ environment), ``db`` (the transfer records), ``store`` (chunk and
container files), ``transfers`` (the protocol's state machine), ``processing`` (decode in a
worker process, segmentation, metrics, quicklooks), ``api`` (FastAPI routers), ``app``
(``create_app``).
"""
