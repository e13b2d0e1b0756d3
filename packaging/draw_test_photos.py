"""Draw the handful of photos the packaging self-checks index (shapes the test model knows):
JPEGs, a HEIC (as phones write) and a DNG (as cameras write), so the frozen app shows it
carries libheif and LibRaw. Prints how many photos it wrote.

    python packaging/draw_test_photos.py FOLDER
"""

import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "models"))
sys.path.insert(0, str(ROOT))
from shapes import draw  # noqa: E402

from tests.rawfiles import write_dng  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True)
    rng = random.Random(0)
    for i, (shape, colour) in enumerate([("circle", "red"), ("star", "blue"),
                                         ("square", "green"), ("triangle", "yellow"),
                                         ("circle", "red")]):
        draw(shape, colour, "white", rng, (300, 200)).save(out / f"{colour}-{shape}-{i}.jpg")
    from pillow_heif import register_heif_opener

    register_heif_opener()
    draw("star", "blue", "white", rng, (300, 200)).save(out / "phone-blue-star.heic")
    write_dng(out / "camera-green-square.dng", draw("square", "green", "white", rng, (300, 200)),
              preview=(300, 200))
    write_dng(out / "camera-red-circle.dng", draw("circle", "red", "white", rng, (300, 200)))
    print(len(list(out.iterdir())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
