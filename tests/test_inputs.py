"""Reading images of every common kind, and from URLs served on this machine."""

from __future__ import annotations

import http.server
import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sam2_hf import load_image
from sam2_hf.inputs import check_bool, check_choice, check_float, check_int, to_float_rgb


def test_rgb_array_is_copied_not_modified():
    array = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    before = array.copy()
    loaded = load_image(array)
    loaded[0, 0, 0] = 99
    np.testing.assert_array_equal(array, before)


@pytest.mark.parametrize(
    "array, expected",
    [
        (np.full((2, 3), 7, np.uint8), np.full((2, 3, 3), 7, np.uint8)),
        (np.full((2, 3, 1), 7, np.uint8), np.full((2, 3, 3), 7, np.uint8)),
        (np.dstack([np.full((2, 3, 3), 7, np.uint8), np.zeros((2, 3), np.uint8)]), None),
        (np.ones((2, 3), bool), np.full((2, 3, 3), 255, np.uint8)),
    ],
)
def test_array_layouts(array, expected):
    loaded = load_image(array)
    assert loaded.shape == (2, 3, 3)
    if expected is None:  # RGBA: alpha dropped, colour kept
        expected = np.full((2, 3, 3), 7, np.uint8)
    np.testing.assert_array_equal(loaded, expected)


def test_float_and_16_bit_arrays_keep_precision():
    floats = np.linspace(0, 1, 12, dtype=np.float64).reshape(2, 2, 3)
    np.testing.assert_allclose(load_image(floats), floats, atol=1e-7)
    sixteen = np.full((2, 2), 65535 // 3, np.uint16)
    np.testing.assert_allclose(load_image(sixteen), 1 / 3, atol=1e-6)
    assert to_float_rgb(load_image(np.full((1, 1, 3), 255, np.uint8))).max() == 1.0


def test_bad_arrays():
    with pytest.raises(ValueError, match=r"values in \[0, 1\], got values in \[255, 255\]"):
        load_image(np.full((2, 2, 3), 255.0))
    with pytest.raises(ValueError, match="NaN"):
        load_image(np.full((2, 2, 3), np.nan))
    with pytest.raises(ValueError, match=r"got \(2, 2, 5\)"):
        load_image(np.zeros((2, 2, 5), np.uint8))
    with pytest.raises(TypeError, match="dtype complex128"):
        load_image(np.zeros((2, 2, 3), complex))
    with pytest.raises(TypeError, match="got int"):
        load_image(5)


def test_files_of_every_mode(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    Image.fromarray(rgb[..., 0]).save(tmp_path / "gray.png")
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.png"), rgb)
    np.testing.assert_array_equal(load_image(str(tmp_path / "rgba.png")), rgb)
    palette = load_image(tmp_path / "palette.png")
    np.testing.assert_array_equal(
        palette, np.array(Image.open(tmp_path / "palette.png").convert("RGB"))
    )
    np.testing.assert_array_equal(load_image(tmp_path / "gray.png"), np.dstack([rgb[..., 0]] * 3))


def test_sixteen_bit_png(tmp_path):
    values = np.array([[0, 1000], [40000, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    loaded = load_image(tmp_path / "deep.png")
    assert loaded.dtype == np.float32 and loaded.shape == (2, 2, 3)
    np.testing.assert_allclose(loaded[..., 0], values / 65535.0, atol=1e-6)


def test_exif_rotation_is_applied(tmp_path):
    """A camera JPEG stored landscape with 'rotate 90' in EXIF is shown (and segmented) portrait."""
    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :5] = 255  # a bright band on the stored image's left edge
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    Image.fromarray(stored).save(tmp_path / "camera.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "camera.jpg")
    assert loaded.shape == (40, 20, 3)
    assert loaded[:5].mean() > 200 and loaded[-5:].mean() < 50  # the band is now on top


def test_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ValueError, match="notes.txt' cannot be read as an image"):
        load_image(tmp_path / "notes.txt")
    with pytest.raises(IsADirectoryError, match="got the folder"):
        load_image(tmp_path)


class _Handler(http.server.BaseHTTPRequestHandler):
    png = b""

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        if self.path == "/slow.png":
            time.sleep(1.5)
        if self.path.endswith(".png"):
            body, kind = self.png, "image/png"
        elif self.path == "/page.html":
            body, kind = b"<html>not an image</html>", "text/html"
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the timeout test hangs up before the answer comes
            pass

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    path = Path(tmp_path_factory.mktemp("served")) / "image.png"
    Image.fromarray(np.full((4, 6, 3), 123, np.uint8)).save(path)
    _Handler.png = path.read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_url(server):
    loaded = load_image(f"{server}/image.png")
    np.testing.assert_array_equal(loaded, np.full((4, 6, 3), 123, np.uint8))


def test_url_errors(server):
    with pytest.raises(ValueError, match=r"did not return an image \(text/html\)"):
        load_image(f"{server}/page.html")
    with pytest.raises(ValueError, match="could not be fetched.*404"):
        load_image(f"{server}/missing")
    with pytest.raises(TimeoutError, match="did not answer within 0.3 s"):
        load_image(f"{server}/slow.png", timeout=0.3)


# ---------------------------------------------------------------- setting checkers


def test_check_int_is_strict():
    assert check_int("n", 3, minimum=1) == 3
    assert type(check_int("n", np.int64(3), minimum=1)) is int
    assert check_int("n", 5, minimum=1, maximum=5) == 5
    for value, kind in (
        (2.0, "float 2.0"),
        (2.7, "float 2.7"),
        (True, "bool True"),
        ("3", "str '3'"),
    ):
        with pytest.raises(TypeError, match=f"n must be an int, got {kind}"):
            check_int("n", value, minimum=1)
    with pytest.raises(TypeError, match="n must be an int, got bool"):
        check_int("n", np.bool_(True), minimum=0)
    with pytest.raises(ValueError, match="n must be >= 1, got 0"):
        check_int("n", 0, minimum=1)
    with pytest.raises(ValueError, match=r"n must be in \[1, 5\], got 6"):
        check_int("n", 6, minimum=1, maximum=5)


def test_check_float():
    assert check_float("t", 1, 0.0, 1.0) == 1.0 and type(check_float("t", 1, 0.0, 1.0)) is float
    assert check_float("t", np.float32(0.5), 0.0, 1.0) == 0.5
    assert check_float("t", math.inf, 0.0, math.inf) == math.inf
    with pytest.raises(TypeError, match="t must be a number, got bool True"):
        check_float("t", True, 0.0, 1.0)
    with pytest.raises(ValueError, match=r"t must be in \[0, 1\], got 1.5"):
        check_float("t", 1.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="t must be >= 0, got nan"):
        check_float("t", math.nan, 0.0, math.inf)
    with pytest.raises(ValueError, match="t must be a finite number, got inf"):
        check_float("t", math.inf, -math.inf, math.inf)
    with pytest.raises(ValueError, match="t must be <= 2, got 3"):
        check_float("t", 3, -math.inf, 2.0)


def test_check_bool_and_choice():
    assert check_bool("flag", True) is True and check_bool("flag", np.bool_(False)) is False
    for value in (1, 0, "yes", None):
        with pytest.raises(
            TypeError, match=f"flag must be True or False, got {type(value).__name__}"
        ):
            check_bool("flag", value)
    assert check_choice("mode", "holes", ("holes", "islands")) == "holes"
    assert check_choice("n", np.int64(2), (1, 2)) == 2
    with pytest.raises(ValueError, match="mode must be one of 'holes', 'islands', got 'hole'"):
        check_choice("mode", "hole", ("holes", "islands"))
    with pytest.raises(ValueError, match="n must be one of 0, 1, got True"):
        check_choice("n", True, (0, 1))
    with pytest.raises(ValueError, match="must be one of"):
        check_choice("n", np.zeros(2), (0, 1))


def test_inputs_results_and_formats_load_no_torch():
    # A fresh interpreter: this test process has torch loaded already. requests is loaded
    # only when a URL is fetched, scipy.ndimage only when regions are labelled or outlined.
    script = (
        "import sys, sam2_hf.inputs, sam2_hf.results, sam2_hf.formats.files, "
        "sam2_hf.formats.boxes\n"
        "heavy = ('torch', 'transformers', 'torchvision', 'requests', 'scipy.ndimage')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""
