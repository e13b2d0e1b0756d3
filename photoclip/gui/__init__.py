"""The PySide6 desktop app. Widgets only: all work goes through photoclip.core."""
