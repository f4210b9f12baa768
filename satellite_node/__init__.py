"""The satellite node: scene intake, the onboard store, compression, the pass planner and the
downlink sender, behind a REST API."""
