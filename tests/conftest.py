"""Test-wide settings: single-threaded BLAS (as main.py sets) and a private data folder."""
import os

# Before NumPy loads: the engine then parallelises over its own threads, as in the app.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
