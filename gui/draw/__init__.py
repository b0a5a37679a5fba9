"""Draw & Explain: a canvas, and what the network makes of the drawing as the pen moves."""
