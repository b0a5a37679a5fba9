"""The main window: three places (Train, Draw & Explain, Evaluate) and the wiring between them.

All connections between the controller, the downloader and the panels are
made in :meth:`MainWindow._wire`; panels never call each other or the worker.
"""
import dataclasses
import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QMainWindow, QMessageBox, QTabWidget,
                               QVBoxLayout, QWidget)

from cnn_core import paths
from cnn_core.download import is_mnist_downloaded
from cnn_core.errors import ConfigError, ModelFileError
from cnn_core.model_files import load_model, save_model, training_history
from cnn_core.network import Network

from . import settings_store
from .architecture import panel_layout
from .autosave import Autosaver, mark_clean_exit
from .controller import TrainingController
from .download_worker import MnistDownloader
from .draw.place import DrawExplainPlace
from .evaluate.place import EvaluatePlace
from .exports_menu import ExportCommands
from .help_text import ABOUT, TOUR, HowItWorksDialog
from .network.backward_window import BackwardWindow
from .presentation import PresentationMode
from .recent_files import RecentFiles
from .save_places import remember_folder, start_folder, with_extension
from .status_bar import ElidingStatusBar
from .style import keep_plots_whole
from .task_progress import TaskProgress
from .tour import NoticeBar
from .train.one_step import describe_step
from .train.page import TrainPage
from .window_state import WindowTheme, fitted_size, restore_window, save_window

log = logging.getLogger(__name__)

TITLE = "Explainable CNN"


def describe(path, meta):
    """``model.npz (validation accuracy 98.1%)`` from a model file's metadata."""
    accuracy = meta.get("val_accuracy")
    return f"{Path(path).name}" + (f" (validation accuracy {accuracy:.1%})"
                                   if isinstance(accuracy, float) else "")


def load_startup_model():
    """The shipped model, or fresh weights (and a note why) when it cannot be read."""
    try:
        network, meta = load_model(paths.SHIPPED_MODEL)
        return network, "shipped " + describe(paths.SHIPPED_MODEL, meta)
    except ModelFileError as exc:
        log.warning("no shipped model: %s", exc)
        return Network(seed=0), "random weights (seed 0): the shipped model could not be read"


def _clause(message):
    """``message`` without its closing full stop (an ellipsis is kept)."""
    message = message.rstrip()
    return message[:-1] if message.endswith(".") and not message.endswith("..") else message


def layer_names(network):
    """The network's conv, parametrised and ReLU layer names, for the panels' axes."""
    return {"conv": network.conv_layer_names(),
            "params": [layer.name for layer in network.layers if layer.params],
            "relu": [layer.name for layer in network.relu_layers()]}


class MainWindow(QMainWindow):
    """The app's window.

    What it remembers and offers is held by small objects: ``theme``
    (:class:`~gui.window_state.WindowTheme`), ``recent``
    (:class:`~gui.recent_files.RecentFiles`), ``exports``
    (:class:`~gui.exports_menu.ExportCommands`) and ``autosaver``
    (:class:`~gui.autosave.Autosaver`).

    Parameters
    ----------
    network, description : Network and str, optional
        The model to open with; default the shipped model.
    mirrors : sequence of str, optional
        Where to download MNIST from (tests point it at a closed port); default the
        public mirrors, or ``EXPLAINABLE_CNN_MNIST_MIRROR`` when set.
    show_tour : bool
        Show the first-run tour if it was never dismissed (the app does; tests do not).
    shared_session : bool
        Another running app uses the same data folder (see
        :class:`gui.autosave.SessionLock`): this one neither offers its autosave
        nor marks a clean exit for it.
    """

    def __init__(self, network=None, description=None, mirrors=None, show_tour=False,
                 shared_session=False):
        super().__init__()
        self._shared_session = shared_session
        self.settings = settings_store.app_settings()
        self.theme = WindowTheme(self, self.settings, self._status)
        self.theme.apply()      # first: plots take their colours when they are made
        if network is None:
            network, description = load_startup_model()
        self.setWindowTitle(TITLE)
        self.train_page = TrainPage(layer_names(network))
        self.draw_place = DrawExplainPlace(network)
        self.evaluate_place = EvaluatePlace()
        self.evaluation_task = TaskProgress("Evaluating…")
        self.setStatusBar(ElidingStatusBar())     # long messages end in "…", whole on hover
        self.statusBar().addPermanentWidget(self.evaluation_task)
        self.tabs = QTabWidget(documentMode=True)
        self.tabs.addTab(self.train_page, "Train")
        self.tabs.addTab(self.draw_place, "Draw && Explain")
        self.tabs.addTab(self.evaluate_place, "Evaluate")
        central = QWidget()
        self._notices = QVBoxLayout(central)
        self._notices.setContentsMargins(0, 0, 0, 0)
        self._notices.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.tour = self.how_it_works = self.about_box = None
        self.last_message_box = None
        self._closed = False
        self._session = description
        self.downloader = MnistDownloader(mirrors, parent=self)
        # Last: it starts the training thread, which must not outlive a failed constructor.
        self.controller = TrainingController(network, description, parent=self)
        self.autosaver = Autosaver(self.settings, self.controller, self._add_notice,
                                   self.open_model_file, self._status)
        self.exports = ExportCommands(self, self.controller, self.draw_place.controller.pinned,
                                      self._status, self.show_message, self.settings,
                                      landscape=lambda: self.train_page.landscape.grid)
        self.presentation = PresentationMode(self)
        self._build_menus()
        self._wire()
        self._wire_one_step()
        self._wire_nothing_lost()
        self.train_page.dataset.set_mnist_ready(is_mnist_downloaded())
        self.controller.announce()
        keep_plots_whole(self)
        self.resize(fitted_size(self, 1440, 900))
        restore_window(self, self.settings)
        if not shared_session:
            self.autosaver.offer_restore()
        if show_tour and not self.settings.value("tour/done", False, type=bool):
            self.tour = self._add_notice(TOUR, [("tour_done", "Got it", self._tour_done)])

    def _build_menus(self):
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open model…", self, shortcut=QKeySequence.StandardKey.Open)
        self.save_action = QAction("&Save model…", self, shortcut=QKeySequence.StandardKey.Save)
        quit_action = QAction("&Quit", self, shortcut=QKeySequence.StandardKey.Quit)
        self.open_action.triggered.connect(lambda: self.open_model_file())
        self.save_action.triggered.connect(lambda: self.save_model_file())
        quit_action.triggered.connect(self.close)
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent = RecentFiles(self.settings, self.recent_menu, self.open_model_file,
                                  lambda: self.controller.state == "idle", self._status,
                                  self.show_message)
        file_menu.addAction(self.save_action)
        page = self.train_page
        tab_export, *_ = self.exports.build_menu(file_menu.addMenu("&Export"), (
            ("Current tab as PNG…", self.tabs.currentWidget),
            ("Training curves as PNG…", lambda: page.curves),
            ("Kernel grids as PNG…", lambda: page.kernels),
            ("Weight path and loss landscape as PNG…", lambda: page.landscape.landscape),
            ("Explanation map as PNG…", lambda: self.draw_place.method_panel)))
        self._name_tab_export(tab_export)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        training_menu = self.menuBar().addMenu("&Training")
        for action in self.train_page.buttons.actions.values():
            training_menu.addAction(action)
        view_menu = self.menuBar().addMenu("&View")
        self.theme.build_menu(view_menu.addMenu("&Theme"))
        view_menu.addAction(self.presentation.action)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction("&How it works", self.show_how_it_works)
        help_menu.addAction("&About", self.show_about)

    def _wire(self):
        """Every connection of the app, in one place."""
        c, page = self.controller, self.train_page
        actions = page.buttons.actions
        # Commands: buttons -> controller.
        actions["start"].triggered.connect(self._start)
        actions["pause"].triggered.connect(c.pause_or_resume)
        actions["step_batch"].triggered.connect(lambda: self._step(c.step_batch))
        actions["step_epoch"].triggered.connect(lambda: self._step(c.step_epoch))
        actions["stop"].triggered.connect(c.stop)
        actions["reset"].triggered.connect(
            lambda: c.reset(page.settings.fields["seed"].value()))
        page.settings.live_changed.connect(lambda values: c.set_live(**values))
        page.timeline.epoch_selected.connect(c.view_epoch)
        page.timeline.rewind_requested.connect(self.ask_continue_from_here)
        page.dataset.dataset_changed.connect(page.settings.set_dataset)
        page.dataset.download_requested.connect(self._download)
        page.dataset.cancel_requested.connect(self.downloader.cancel)
        self.downloader.progress.connect(page.dataset.show_progress)
        self.downloader.finished.connect(page.dataset.download_finished)
        # Reports: controller -> panels.
        for slot in (page.buttons.set_state, page.settings.set_state, page.progress.set_state,
                     page.timeline.set_state, self.draw_place.set_training_state,
                     self.evaluate_place.set_training_state, self._on_state):
            c.state_changed.connect(slot)
        for slot in (page.curves.clear, page.health.clear, page.progress.clear,
                     page.timeline.clear, page.banner.hide, self._on_session):
            c.session_started.connect(slot)
        for slot in (page.curves.add_batches, page.health.add_batches, page.progress.add_batches):
            c.batches_trained.connect(slot)
        for slot in (page.curves.add_epoch, page.progress.add_epoch, page.timeline.add_epoch):
            c.epoch_finished.connect(slot)
        for slot in (page.curves.truncate, page.health.truncate, page.progress.truncate):
            c.rewound.connect(slot)
        c.diverged.connect(page.curves.show_divergence)
        c.diverged.connect(page.settings.show_divergence)
        c.session_started.connect(page.settings.forget_divergence)
        c.kernels_changed.connect(page.kernels.show_frame)
        # The kernels' "change since the previous epoch" keeps the epochs' weights.
        c.session_started.connect(lambda _: page.kernels.start_session(c.snapshots[0]))
        c.epoch_finished.connect(page.kernels.add_epoch)
        c.rewound.connect(page.kernels.truncate)
        c.timeline_changed.connect(page.timeline.set_position)
        c.timeline_changed.connect(page.curves.set_cursor)
        c.locked_changed.connect(page.settings.set_locked)
        c.locked_changed.connect(self._on_locked)
        c.run_ended.connect(self._on_run_ended)
        c.rewound.connect(self._on_rewound)
        c.batches_trained.connect(self._on_batches)
        c.epoch_finished.connect(self.autosaver.save_epoch)
        self.draw_place.controller.map_status.connect(self._on_draw_status)
        # The model on show, for the places that explain and evaluate it.
        for slot in (self.draw_place.show_model, self.evaluate_place.show_model,
                     self._on_model):
            c.model_changed.connect(slot)
        draw, evaluate = self.draw_place, self.evaluate_place
        draw_c = draw.controller
        c.session_started.connect(lambda origin: draw_c.start_session(c.snapshots, origin))
        c.session_started.connect(evaluate.start_session)
        c.epoch_finished.connect(draw_c.add_epoch)
        c.epoch_finished.connect(evaluate.evaluate_epoch)
        c.rewound.connect(draw_c.truncate_epochs)
        c.locked_changed.connect(draw.set_training_locked)
        draw.extra_training_changed.connect(c.set_extra_training)
        draw.embedding_features.connect(evaluate.show_drawing)
        draw.error_occurred.connect(
            lambda title, text: self.show_message(QMessageBox.Icon.Warning, title, text))
        evaluate.example_chosen.connect(draw.show_example)
        page.buttons.actions["reset"].triggered.connect(evaluate.refit_after_next_epoch)
        # Evaluate judges on the chosen data set's images (MNIST's test set once it is here).
        page.dataset.dataset_changed.connect(lambda name, _: evaluate.use_dataset(name))
        self.downloader.finished.connect(
            lambda ok, _: ok and evaluate.use_dataset(page.dataset.current[0]))
        task = self.evaluation_task
        evaluate.evaluation_started.connect(task.start)
        evaluate.evaluation_progress.connect(task.set_progress)
        evaluate.evaluation_ended.connect(task.finish)
        evaluate.evaluation_ended.connect(
            lambda why: why and self.statusBar().showMessage(why, 5000))
        task.cancel_requested.connect(evaluate.cancel)
        evaluate.example_chosen.connect(lambda *_: self.tabs.setCurrentWidget(draw))
        self._wire_landscape()

    def _wire_landscape(self):
        """The "Weight path" tab: the session's snapshots in, a clicked epoch out."""
        c, page = self.controller, self.train_page
        view = page.landscape
        c.session_started.connect(lambda _: view.start_session(c.snapshots))
        c.state_changed.connect(view.set_training_state)
        c.model_changed.connect(view.show_model)
        c.epoch_finished.connect(view.add_epoch)
        c.rewound.connect(view.truncate)
        c.timeline_changed.connect(view.set_position)
        page.dataset.dataset_changed.connect(lambda name, _: view.use_dataset(name))
        view.epoch_selected.connect(c.view_epoch)

    def _wire_one_step(self):
        """The Train place's One step tab: the last step in, and what a step did said in
        the status bar.  Its ``image_chosen`` (an image of the batch, its label, the model
        before the step) is for the backward view."""
        c, view = self.controller, self.train_page.one_step
        actions = self.train_page.buttons.actions
        self._stepping = self._step_to_describe = None
        c.last_step_changed.connect(self._on_last_step)
        c.session_started.connect(view.clear)
        c.rewound.connect(view.clear)
        view.last_step_requested.connect(self._show_last_step)
        view.described.connect(self._on_step_described)
        self.backward_window = None         # made on the first click of an image
        view.image_chosen.connect(self._show_training_backward)
        # After _wire's own connections: a press that started nothing (a wrong setting) is
        # not waited for.
        actions["step_batch"].triggered.connect(lambda: self._note_step("batch"))
        actions["step_epoch"].triggered.connect(lambda: self._note_step("epoch"))

    def _show_training_backward(self, image, label, model):
        if self.backward_window is None:
            self.backward_window = BackwardWindow(self)
        self.backward_window.show_image(image, label, model)

    def _note_step(self, what):
        if self.controller.state == "paused":
            self._stepping = what

    def _show_last_step(self):
        if self.controller.state == "running":
            self.statusBar().showMessage("The last step can be shown between batches: "
                                         "press Pause first", 5000)
        self.train_page.one_step.show_step(self.controller.last_step)

    def _on_last_step(self, step):
        stepping, self._stepping = self._stepping, None
        self._step_to_describe = step if stepping == "batch" else None
        self.train_page.one_step.show_step(step, describe=stepping == "batch")
        history = self.controller.history
        if stepping == "epoch" and history and history[-1].epoch == step.epoch:
            record = history[-1]
            note = self.autosaver.note
            self.statusBar().showMessage(
                f"Stepped to the end of epoch {record.epoch}: train loss "
                f"{record.train_loss:.2f}, validation loss {record.val_loss:.2f}, "
                f"validation accuracy {record.val_accuracy:.1%}" + (f"; {note}" if note else ""))

    def _on_step_described(self, step, result):
        if step is self._step_to_describe:
            self._step_to_describe = None
            self.statusBar().showMessage(f"Stepped one batch: {describe_step(step, result)}")

    # --- nothing lost: resumed sessions, the kept session, Continue from here ----------

    def _wire_nothing_lost(self):
        """A resumed session's curves and settings; the autosaver follows the sessions;
        a Continue from here that was answered trains on once the run is idle."""
        self.continue_box = None
        self._train_on_when_idle = False
        self.controller.history_restored.connect(self._show_restored_history)
        self.controller.session_started.connect(self.autosaver.start_session)
        self.controller.state_changed.connect(self._train_on_after_rewind)

    def _show_restored_history(self, summaries):
        page = self.train_page
        for summary in summaries:
            for slot in (page.curves.add_epoch, page.progress.add_epoch, page.timeline.add_epoch):
                slot(summary)
            if summary.state is not None:
                page.kernels.add_epoch(summary)
        config = dataclasses.asdict(self.controller.config)
        settings_store.set_fields(page.settings.fields,
                                  {k: v for k, v in config.items() if k != "dataset"})

    def ask_continue_from_here(self):
        """Say which epochs "Continue from here" discards; once answered, go back and train on."""
        c = self.controller
        viewed, latest = c.viewed_epoch, c.latest_epoch
        later = latest - viewed
        unfinished = c.state == "paused" and c.session.batch > 0
        if later <= 0 and not unfinished:
            return self._continue_from_here()
        lost = []
        if later:
            span = f"Epoch {latest}" if later == 1 else f"Epochs {viewed + 1}-{latest}"
            lost.append(f"{span} ({later} epoch{'s' if later > 1 else ''})")
        if unfinished:
            lost.append("the unfinished epoch of the paused run")
        box = QMessageBox(QMessageBox.Icon.Question, "Continue from here",
                          f"Continue from epoch {viewed}? {' and '.join(lost)} will be "
                          f"discarded, and training goes on from the end of epoch {viewed}.",
                          QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("continue_box")
        yes = box.addButton(f"Continue from epoch {viewed}", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(yes)
        box.buttonClicked.connect(lambda button: button is yes and self._continue_from_here())
        box.open()
        self.continue_box = box

    def _continue_from_here(self):
        c = self.controller
        if c.state == "idle":
            c.rewind_to_viewed()
            self._start()
        elif c.state == "paused":
            self._train_on_when_idle = True     # the paused run ends first, then goes back
            c.rewind_to_viewed()

    def _train_on_after_rewind(self, state):
        if state == "idle" and self._train_on_when_idle:
            self._train_on_when_idle = False
            # After every slot has seen "idle": starting inside this signal would reach
            # the later slots after "running".
            QTimer.singleShot(0, self._start)

    # --- commands ---------------------------------------------------------------------

    def _read_config(self):
        """The settings as a TrainConfig, or None after showing inline what is wrong."""
        page = self.train_page
        name, available = page.dataset.current
        if name == "mnist" and not is_mnist_downloaded():
            page.settings.show_error("full MNIST is not downloaded yet: press Download MNIST, "
                                     "or choose the bundled sample")
            return None
        try:
            config = page.settings.read_config(available)
        except ConfigError:
            return None
        if self.controller.latest_epoch >= config.epochs:
            page.settings.show_error(f"all {config.epochs} epochs are done: raise Epochs to "
                                     f"train on, or press Reset to start over")
            return None
        return config

    def _start(self):
        config = self._read_config()
        if config is not None:
            self.train_page.banner.hide()
            self.controller.start(config)

    def _step(self, press):
        # While a run is active the settings are already in force; only a new run reads them.
        config = self._read_config() if self.controller.state == "idle" else self.controller.config
        if config is not None:
            press(config)

    def _download(self):
        self.train_page.dataset.download_started()
        self.downloader.start()

    def open_model_file(self, path=None, remember=True, snapshots=None):
        """Load a model file (asking for one when ``path`` is None); False if nothing changed.

        ``remember`` puts it in File → Open recent.  A file with a training history
        goes on from it (its curves shown); ``snapshots(network, latest_epoch)`` gives the
        epoch snapshots kept with it (the autosave's), else only its own epoch is kept.
        """
        if self.controller.state != "idle":
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open model", str(start_folder(self.settings, "models")),
                "Models (*.npz);;All files (*)")
            if not path:
                return False
        try:
            network, meta = load_model(path)
        except ModelFileError as exc:
            self.show_message(QMessageBox.Icon.Warning, "Cannot open the model", str(exc))
            return False
        shown = self.controller.current_model().layer_specs()
        if panel_layout(network.architecture) != panel_layout(shown):
            # The panels are built for the layers of the network on show (dense widths aside).
            layers = ", ".join(spec.get("name", "?") for spec in network.architecture)
            self.show_message(QMessageBox.Icon.Warning, "Cannot open the model",
                              f"{Path(path).name} holds another network (layers {layers}) than "
                              f"the one this window is built for; the command line "
                              f"(explainable-cnn evaluate, predict, explain --model) can use it.")
            return False
        history, config = training_history(meta)
        if history:
            latest = history[-1].epoch
            kept = snapshots(network, latest) if snapshots else {}
            kept.setdefault(latest, network.state_dict())
            self.controller.resume_session(network, describe(path, meta), history, kept, config)
        else:
            self.controller.replace_model(network, describe(path, meta))
        self.statusBar().showMessage(f"Opened {path}", 5000)
        if remember:
            self.recent.remember(path)
            remember_folder(self.settings, "models", path)
        return True

    def _name_tab_export(self, action):
        """File → Export's first entry names the tab it saves ("Draw & Explain tab as
        PNG…"), not "Current place", a word the window shows nowhere else."""
        def rename():
            # The tab's text keeps its "&&", which a menu also shows as "&".
            action.setText(f"{self.tabs.tabText(self.tabs.currentIndex())} tab as PNG…")
        self.tabs.currentChanged.connect(rename)
        rename()

    def save_model_file(self, path=None):
        """Save the model on show (asking where when ``path`` is None); False on failure."""
        if path is None:
            folder = start_folder(self.settings, "models")
            path, _ = QFileDialog.getSaveFileName(self, "Save model", str(folder / "model.npz"),
                                                  "Models (*.npz)")
            if not path:
                return False
        path = with_extension(path, ".npz")     # else File -> Open would not list it
        model = self.controller.current_model()
        try:
            save_model(path, model.network(), self.controller.metadata())
        except ModelFileError as exc:
            self.show_message(QMessageBox.Icon.Warning, "Cannot save the model", str(exc))
            return False
        self.statusBar().showMessage(f"Saved the model ({model.description}) to {path}", 5000)
        self.recent.remember(path)
        remember_folder(self.settings, "models", path)
        return True

    def show_how_it_works(self):
        """The plain-words help, non-modal."""
        if self.how_it_works is None:
            self.how_it_works = HowItWorksDialog(self)
        self.how_it_works.show()
        self.how_it_works.raise_()

    def show_about(self):
        """The About box, window-modal but not blocking."""
        box = QMessageBox(QMessageBox.Icon.NoIcon, f"About {TITLE}", ABOUT,
                          QMessageBox.StandardButton.Ok, self)
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setObjectName("about_box")
        box.open()
        self.about_box = box

    def _status(self, text, milliseconds=0):
        self.statusBar().showMessage(text, milliseconds)

    def _add_notice(self, text, buttons):
        notice = NoticeBar(text, buttons)
        self._notices.insertWidget(0, notice)
        return notice

    def _tour_done(self):
        self.settings.setValue("tour/done", True)

    def show_message(self, icon, title, text):
        """A window-modal box that does not block the caller (tests can find and close it)."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("message_box")
        box.open()
        self.last_message_box = box

    # --- reports ----------------------------------------------------------------------

    def _on_state(self, state):
        self.open_action.setEnabled(state == "idle")
        self.recent.set_enabled(state == "idle")
        if state == "paused":
            # Where the run really is ("Paused at epoch 7, batch 35 of 63"), as Progress says.
            self.statusBar().showMessage(self.train_page.progress.state.text())
        elif state == "stopping":
            self.statusBar().showMessage("Stopping after this batch…")
        self._on_locked(self.controller.locked)

    def _on_locked(self, locked):
        self.train_page.dataset.set_choosable(self.controller.state == "idle" and not locked)

    def _on_session(self, description):
        self._session = description
        self.statusBar().showMessage(f"Weights: {description}", 5000)

    def _on_model(self, model):
        self.train_page.show_model_info(self._session, model.description)

    def _on_batches(self, chunk):
        if self.controller.state == "paused":   # the batch in flight when Pause was pressed
            self.statusBar().showMessage(self.train_page.progress.state.text())
        elif self.controller.state == "running":
            self.statusBar().showMessage(
                f"Training: epoch {chunk.epoch} of {chunk.total_epochs}, "
                f"batch {chunk.batch} of {chunk.batches_per_epoch}"
                + (f"; {self.autosaver.note}" if self.autosaver.note else ""))

    def _on_draw_status(self, text):
        if text:
            self.statusBar().showMessage(f"Explaining: {text}", 5000)

    def _on_run_ended(self, ended):
        page = self.train_page
        if ended.status == "diverged":
            page.banner.show_divergence(ended.message)
        elif ended.status == "invalid":
            page.settings.show_error(ended.message)
        elif ended.status == "failed":
            self.show_message(QMessageBox.Icon.Critical, "Training failed",
                              f"Training stopped because of an error in the app:\n{ended.message}")
        note = self.autosaver.take_note()
        # The engine's sentence becomes a clause, so the autosave note can go on after it.
        text = _clause(f"Training {ended.message}" if ended.status != "invalid" else ended.message)
        self.statusBar().showMessage(f"{text}; {note}" if note else text, 10000)

    def _on_rewound(self, epoch):
        # After the stopped run's own message, so this is what stays in the bar.
        where = f"the end of epoch {epoch}" if epoch else "the start"
        self.statusBar().showMessage(f"Back at {where}: Start trains on from there", 10000)

    # --- closing ----------------------------------------------------------------------

    def changeEvent(self, event):
        """Follow the palette when it changes: the system may switch between light and dark."""
        if event.type() == QEvent.Type.PaletteChange:
            self.theme.follow_palette()
        super().changeEvent(event)

    def closeEvent(self, event):
        """Stop training and downloading, and wait for both threads before closing."""
        if not self._closed:
            self._closed = True
            save_window(self, self.settings)
            self.hide()  # feels instant even while the last batch finishes
            self.downloader.shutdown()
            # Evaluate first: it cancels its job at once, while the Draw place may
            # still wait for a background job (the unsure flag's fit takes a second).
            self.evaluate_place.shutdown()
            self.train_page.landscape.shutdown()
            self.draw_place.shutdown()
            self.train_page.one_step.shutdown()
            seconds = self.controller.shutdown()
            log.info("training thread ended %.2f s after close", seconds)
            if not self._shared_session:
                self.autosaver.keep_at_close()      # the next start offers to continue it
                mark_clean_exit(self.settings)
        event.accept()
