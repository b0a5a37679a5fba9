"""A thread-safe remote control for a training loop: pause, resume, step, stop.

The training loop calls :meth:`TrainingControl.wait_for_batch` before every
batch and :meth:`TrainingControl.epoch_finished` after every epoch; another
thread (the GUI, a test) presses the buttons.  These are flags read between
batches, not messages in a queue, so a burst of clicks cannot pile up work.
"""
import threading


class TrainingControl:
    """Run, pause, single-step and stop a training loop from another thread."""

    def __init__(self, paused=False, before_wait=None):
        #: Called (without the lock held) on the loop's thread when it is about to
        #: block on a pause: a chance to flush what it has buffered for display.
        self.before_wait = before_wait
        self._cond = threading.Condition()
        self._paused = paused
        self._stopped = False
        self._batches_allowed = 0      # batches granted while paused (Step batch)
        self._finish_epoch = False     # run to the end of this epoch, then pause

    # --- buttons (any thread) -------------------------------------------------------

    def pause(self):
        with self._cond:
            self._paused = True
            self._batches_allowed = 0
            self._finish_epoch = False

    def resume(self):
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stop(self):
        """Ask the loop to end before its next batch; it leaves a consistent model."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def step_batch(self):
        """Run exactly one more batch, then stay paused."""
        with self._cond:
            self._paused = True
            self._batches_allowed += 1
            self._cond.notify_all()

    def step_epoch(self):
        """Run to the end of the current epoch, then stay paused."""
        with self._cond:
            self._paused = True
            self._finish_epoch = True
            self._cond.notify_all()

    @property
    def paused(self):
        return self._paused

    @property
    def stopped(self):
        return self._stopped

    # --- the loop's side ----------------------------------------------------------

    def wait_for_batch(self):
        """Block while paused; return ``True`` to run a batch, ``False`` to stop."""
        announced = False
        with self._cond:
            while not self._stopped:
                if not self._paused or self._finish_epoch:
                    return True
                if self._batches_allowed > 0:
                    self._batches_allowed -= 1
                    return True
                if self.before_wait is not None and not announced:
                    announced = True
                    self._cond.release()   # the callback may press buttons itself
                    try:
                        self.before_wait()
                    finally:
                        self._cond.acquire()
                    continue               # the state may have changed meanwhile
                self._cond.wait()
            return False

    def epoch_finished(self):
        """Called by the loop at an epoch's end: ends a Step-epoch request."""
        with self._cond:
            self._finish_epoch = False
