"""Georeferenced products of a processed transfer: COGs, detections in WGS84, STAC items."""
