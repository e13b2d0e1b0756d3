"""Draw the handful of photos the packaging self-checks index (shapes the test model knows).

    python packaging/draw_test_photos.py FOLDER
"""

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "models"))
from shapes import draw  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True)
    rng = random.Random(0)
    for i, (shape, colour) in enumerate([("circle", "red"), ("star", "blue"),
                                         ("square", "green"), ("triangle", "yellow"),
                                         ("circle", "red")]):
        draw(shape, colour, "white", rng, (300, 200)).save(out / f"{colour}-{shape}-{i}.jpg")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
