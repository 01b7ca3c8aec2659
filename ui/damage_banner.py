"""The banner a damaged store shows on top of the main window: the store is read-only, what
is damaged, and what to do. Hidden while the store is whole."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from core.errors import StoreDamaged


class DamageBanner(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("damageBanner")
        self.setWordWrap(True)
        self.setStyleSheet(
            "QLabel#damageBanner { background: #b3261e; color: white; padding: 10px 14px;"
            " font-weight: 600; }"
        )
        self.hide()

    def show_damage(self, damage: StoreDamaged | None) -> None:
        if damage is None:
            self.hide()
            return
        self.setText(
            f"Read-only: the {damage.what} is damaged ({damage.detail or 'see status'}). "
            "You can still search and copy things out; nothing new is saved. Copy the data "
            f"folder as it is, then restore a backup.  ({damage.path})"
        )
        self.show()
