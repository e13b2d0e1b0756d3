"""Entry point of the frozen app: the same CLI as the package (gui, index, search…)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Needed where a frozen app's child processes re-run the executable (Windows, macOS).
    multiprocessing.freeze_support()
    from photoclip.cli import main

    sys.exit(main())
