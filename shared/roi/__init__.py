"""Region-of-interest detection onboard and the block masks that ROI coding records."""
