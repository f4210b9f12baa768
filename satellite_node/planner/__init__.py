"""The pass plan that acts onboard: candidates with real sizes, the applier, the plan report."""
