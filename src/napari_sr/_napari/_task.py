"""What every napari-sr dock widget shares: a Run button that turns into Cancel while the
work runs off the GUI thread, and a determinate progress bar."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from napari.utils.notifications import notification_manager, show_error, show_info, show_warning
from qtpy.QtCore import QObject, Qt, QTimer, Signal
from qtpy.QtWidgets import (
    QComboBox,
    QDockWidget,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QWidget,
)
from superqt.utils import create_worker

from ..utils.progress import Cancelled


class _Relay(QObject):
    """Carries progress and log records from the worker thread to the GUI thread."""

    progress = Signal(int, int)
    record = Signal(dict)


class TaskWidget(QWidget):
    """Base of the dock widgets: ``run_button``, ``progress`` and one background task.

    Subclasses implement :meth:`start`, which validates the choices and calls
    :meth:`launch`; ``self.cancel_event`` is set when the user presses Cancel.
    """

    run_text = "Run"
    cancel_text = "Cancel"
    cancelling_text = "Cancelling…"
    cancelled_message = "napari-sr: cancelled; nothing was added"

    def __init__(self) -> None:
        super().__init__()
        self._worker = None
        self.cancel_event = threading.Event()
        self.relay = _Relay()
        self.relay.progress.connect(self._show_progress)
        self.run_button = QPushButton(self.run_text)
        self.run_button.clicked.connect(self._run_or_cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        # napari puts the widget in a dock once this constructor has returned: then join
        # the tabs of the napari-sr docks already open (six docks stacked grew the window
        # past the screen)
        QTimer.singleShot(0, self.join_tabs)

    def join_tabs(self) -> bool:
        """Tabify this widget's dock with the first other napari-sr dock in the same area
        of the window, and raise it; True when it did.

        Works on the Qt main window that napari's docks live in (``tabifyDockWidget``),
        whichever way the dock was opened (the Plugins menu, ``add_plugin_dock_widget``)."""
        dock = _ancestor(self, QDockWidget)
        window = None if dock is None else dock.parentWidget()
        if not isinstance(window, QMainWindow) or dock.isFloating():
            return False
        area = window.dockWidgetArea(dock)
        others = [
            other
            for other in window.findChildren(QDockWidget)
            if other is not dock
            and not other.isHidden()
            and not other.isFloating()
            and window.dockWidgetArea(other) == area
            and other.findChild(TaskWidget) is not None
        ]
        if not others or dock in window.tabifiedDockWidgets(others[0]):
            return False
        window.tabifyDockWidget(others[0], dock)
        dock.show()
        dock.raise_()
        return True

    @property
    def busy(self) -> bool:
        return self._worker is not None

    def start(self) -> None:  # pragma: no cover - every widget overrides it
        raise NotImplementedError

    def launch(self, work: Callable[[], Any], returned: Callable[[Any], None], total: int) -> None:
        """Run ``work()`` off the GUI thread; ``returned(result)`` on the GUI thread.

        ``self.cancel_event`` is the run's event from :meth:`start` on (a fresh one is made
        when a run ends), so ``start`` may hand it to the work before calling this.

        Once Cancel was pressed, ``returned`` is never called: work that got to its end
        anyway (Cancel pressed during its last batch, or after it returned but before its
        result reached the GUI thread) ends in :meth:`cancelled` like cancelled work."""
        event = self.cancel_event

        def deliver(result: Any) -> None:
            if event.is_set():
                self.cancelled(result)
            else:
                returned(result)

        # superqt's worker, not napari's: napari's also relays every error and warning to
        # its notifications, which showed each error twice (its raw text, then ours)
        worker = create_worker(
            work,
            _connect={  # "errored" given here, so superqt does not re-raise in the loop
                "returned": deliver,
                "errored": self._errored,
                "warned": self._warned,
                "finished": self._finished,
            },
            _start_thread=False,
        )
        self._worker = worker
        self.run_button.setText(self.cancel_text)
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(0)
        worker.start()

    def watch_layers(self, viewer: Any) -> None:
        """Call ``self._refresh_layers()`` now and whenever a layer is added or removed."""
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self._refresh_layers()

    def _refresh_layers(self, *_: Any) -> None:  # pragma: no cover - widgets override it
        """Update the widget's layer choices."""

    def cancelled(self, result: Any = None) -> None:
        """Called on the GUI thread when the work ended by cancellation; ``result`` is
        what it returned if it got to its end before it saw the cancel (dropped here)."""
        show_info(self.cancelled_message)

    def _run_or_cancel(self) -> None:
        if self._worker is not None:
            self.cancel_event.set()
            self.run_button.setEnabled(False)
            self.run_button.setText(self.cancelling_text)
            return
        self.start()

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _errored(self, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            self.cancelled()
        else:
            show_error(f"napari-sr: {error}")

    def _warned(self, args: tuple) -> None:
        """A warning issued by the work: napari-sr's own (e.g. a model below bicubic, a
        fallback) as a napari warning notification; others as napari shows warnings."""
        message, category, filename = args[0], args[1], str(args[2])
        if category.__module__.startswith("napari_sr") or "napari_sr" in filename:
            show_warning(f"napari-sr: {message}")
        else:
            notification_manager.receive_warning(*args)

    def _finished(self) -> None:
        self._worker = None
        self.cancel_event = threading.Event()  # unset, for the next run
        self.run_button.setEnabled(True)
        self.run_button.setText(self.run_text)


def _ancestor(widget: QWidget, kind: type) -> Any:
    """The nearest parent of ``widget`` that is a ``kind``, or None."""
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, kind):
        parent = parent.parentWidget()
    return parent


def device_choices() -> list[str]:
    """The devices present (CPU, each CUDA GPU, MPS), for a widget's device menu; needs
    torch, imported here."""
    from ..engine.device import available_devices

    return available_devices()


def image_layer_names(viewer: Any, accept: Callable[[Any], bool] | None = None) -> list[str]:
    """Names of the viewer's image layers (those ``accept`` takes, if given)."""
    import napari

    return [
        layer.name
        for layer in viewer.layers
        if isinstance(layer, napari.layers.Image) and (accept is None or accept(layer))
    ]


class CheckList(QListWidget):
    """A list of names with a tick box each (layers to train on, outputs to rate)."""

    def show_names(self, names: list[str]) -> None:
        """List ``names``, keeping the ticks of those listed before."""
        checked = set(self.checked())
        self.clear()
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(_state(name in checked))
            self.addItem(item)

    def checked(self) -> list[str]:
        """The ticked names, in list order."""
        items = (self.item(i) for i in range(self.count()))
        return [item.text() for item in items if item.checkState() == Qt.CheckState.Checked]

    def set_checked(self, names: list[str]) -> None:
        """Tick exactly ``names``."""
        for i in range(self.count()):
            self.item(i).setCheckState(_state(self.item(i).text() in names))


def _state(checked: bool) -> Qt.CheckState:
    return Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked


def set_choices(combo: QComboBox, names: list[str]) -> None:
    """Replace a combo box's items without emitting a change for the rebuild itself,
    keeping the current choice when it is still there."""
    current = combo.currentText()
    combo.blockSignals(True)
    combo.clear()
    combo.addItems(names)
    if current in names:
        combo.setCurrentText(current)
    combo.blockSignals(False)


def bundled_default_kinds() -> list[str]:
    """The single-image defaults (``'quality'``, ``'fast'``) whose weights are bundled,
    offered as methods by the widgets (asked of the table of methods)."""
    from ..engine.method_table import default_roles, default_scales

    return [role for role in default_roles() if default_scales(role)]


def missing_default(method: str, scale: float) -> str | None:
    """The error to show when ``method`` is a bundled default without weights for
    ``scale``; None when it is not a default or has them (asked of the table of methods)."""
    from ..engine.method_table import default_roles, describe_method

    if method not in default_roles():
        return None
    info = describe_method(method, scale)
    if info.available:
        return None
    have = ", ".join(f"×{s}" for s in info.scales)
    return (f"napari-sr: the {method} default is bundled for {have}, not ×{scale:g}; choose "
            "one of those scales or an interpolation")  # fmt: skip
