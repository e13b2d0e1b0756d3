"""Small dialogs: full preview, problems list, settings."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from photoclip.settings import Settings


class PreviewDialog(QDialog):
    """The photo at screen size; Space or Escape closes it."""

    def __init__(self, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(path)
        screen = QGuiApplication.primaryScreen().availableGeometry()
        reader = QImageReader(path)
        reader.setAutoTransform(True)
        size = reader.size()
        limit = screen.size() * 0.85
        if size.isValid() and (size.width() > limit.width() or size.height() > limit.height()):
            reader.setScaledSize(size.scaled(limit, Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
        label = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        if image.isNull():
            label.setText(f"Cannot show this photo: {reader.errorString()}")
        else:
            label.setPixmap(QPixmap.fromImage(image))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label)

    def keyPressEvent(self, event: Any) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.accept()
            return
        super().keyPressEvent(event)


class ProblemsDialog(QDialog):
    """Every photo that could not be read, with the reason."""

    def __init__(self, photos: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Problems")
        self.resize(800, 400)
        tree = QTreeWidget()
        tree.setHeaderLabels(["Photo", "Reason"])
        tree.setRootIsDecorated(False)
        for p in photos:
            tree.addTopLevelItem(QTreeWidgetItem([p.path, p.error or ""]))
        tree.resizeColumnToContents(0)
        self.tree = tree
        note = QLabel(f"{len(photos)} photos could not be read. They are retried when the "
                      "file changes." if photos else "No problems.")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addWidget(tree, 1)
        layout.addWidget(buttons)


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self.model = QLineEdit(settings.model)
        self.model.setPlaceholderText("default: ViT-B-32-256:datacomp_s34b_b86k")
        pick_model = QPushButton("Folder…")
        pick_model.clicked.connect(self._pick_model)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(pick_model)
        self.threads = QSpinBox(minimum=0, maximum=64, value=settings.threads)
        self.threads.setSpecialValueText("one per core")
        self.thumb = QSpinBox(minimum=64, maximum=512, singleStep=16, value=settings.thumb_size)
        self.library = QLineEdit(settings.library)
        self.library.setPlaceholderText("default library")
        pick_lib = QPushButton("Folder…")
        pick_lib.clicked.connect(self._pick_library)
        lib_row = QHBoxLayout()
        lib_row.addWidget(self.library, 1)
        lib_row.addWidget(pick_lib)
        form = QFormLayout()
        form.addRow("Model", model_row)
        form.addRow("Decode threads", self.threads)
        form.addRow("Thumbnail size", self.thumb)
        form.addRow("Library location", lib_row)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _pick_model(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "OpenCLIP model folder")
        if folder:
            self.model.setText(f"local-dir:{folder}")

    def _pick_library(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Library folder")
        if folder:
            self.library.setText(folder)

    def accept(self) -> None:
        self.settings.model = self.model.text().strip()
        self.settings.threads = self.threads.value()
        self.settings.thumb_size = self.thumb.value()
        self.settings.library = self.library.text().strip()
        super().accept()
