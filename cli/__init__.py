"""The command line.  Importing it pins BLAS to one thread per Python thread.

The engine splits each batch over its own threads (see ``cnn_core.parallel``);
a multi-threaded BLAS underneath would oversubscribe the cores.  This has to
happen before NumPy is first imported, which is why it lives here.
"""
import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
