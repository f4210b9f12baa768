"""Processing of committed transfers, off the request path: decode in a worker process,
segment, measure, render quicklooks, record."""
