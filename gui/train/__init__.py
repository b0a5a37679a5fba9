"""The Train place: settings, run buttons, live curves, kernels, health and the timeline."""
