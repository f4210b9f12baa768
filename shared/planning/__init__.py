"""Pass-budget planning: which queued scenes go down in the next pass, with which codec and rate."""
