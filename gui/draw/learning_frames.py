"""A pinned drawing's Grad-CAM and answer at every epoch of the session (no Qt).

The weights of every epoch are read from the training controller's snapshot
store (shared, not copied: older epochs wait on disk); one explainer is loaded
with each in turn (a millisecond apiece), and the frames already computed are
kept, so a new epoch costs one analysis.
"""
from cnn_core.explain import Explainer


class PinnedDrawing:
    """The session's epoch weights and, once a drawing is pinned, its frame per epoch."""

    def __init__(self):
        self.digit = None
        self.layer = None
        self._states = {}           # epoch -> state_dict: the controller's snapshot store
        self._frames = {}           # epoch -> (heatmap, predicted, probability)
        self._explainer = None

    @property
    def pinned(self):
        return self.digit is not None

    def set_architecture(self, network):
        """Make the explainer once, from any network of the session's architecture."""
        if self._explainer is None or \
                self._explainer.network.architecture != network.architecture:
            self._explainer = Explainer(network)
            self._frames.clear()

    def pin(self, digit, layer):
        """Follow ``digit (28, 28)``'s Grad-CAM at conv ``layer`` across the epochs."""
        self.digit, self.layer = digit.copy(), layer
        self._frames.clear()

    def unpin(self):
        """Stop following a drawing (the epoch weights are kept)."""
        self.digit = None
        self._frames.clear()

    def start_session(self, snapshots):
        """New weights (Reset, Open): ``snapshots`` maps epoch to ``state_dict``, from 0.

        The owner adds and forgets epochs in it before calling :meth:`add_epoch`
        and :meth:`truncate`.
        """
        self._states = snapshots
        self._frames.clear()

    def add_epoch(self, epoch):
        """``epoch`` finished (its weights replace any earlier run's)."""
        self._frames.pop(epoch, None)

    def truncate(self, epoch):
        """Forget the frames after ``epoch`` (the timeline rewound)."""
        self._frames = {e: f for e, f in self._frames.items() if e <= epoch}

    def frames(self):
        """``[(epoch, heatmap, predicted, probability), ...]`` in epoch order."""
        if not self.pinned or self._explainer is None:
            return []
        for epoch in sorted(self._states):
            if epoch not in self._frames:
                self._explainer.set_weights(self._states[epoch])
                analysis = self._explainer.analyse(self.digit)
                self._frames[epoch] = (analysis.cams[self.layer][1], analysis.predicted,
                                       float(analysis.probabilities[analysis.predicted]))
        return [(epoch, *self._frames[epoch]) for epoch in sorted(self._frames)]
