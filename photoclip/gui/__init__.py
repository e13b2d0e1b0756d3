"""The PySide6 desktop app. Widgets only: all work goes through photoclip.core."""

import os

# PySide6 (6.8 and later) makes each Qt type's Python wrapper the first time it is used,
# and making one is not safe while another thread makes one too: a thumbnail worker's
# first QImageReader beside the GUI thread painting crashed the app (SIGSEGV in shiboken's
# lazy type creation, about one run in six of the search-during-indexing test). All types
# made at import cost ~60 ms once. Only effective before PySide6 is first imported, which
# this package is the first to do; an explicit setting wins.
os.environ.setdefault("PYSIDE6_OPTION_LAZY", "0")
