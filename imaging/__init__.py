"""Image files: finding, reading and converting them, tiling grids, writing them atomically
(Pillow and NumPy only, no Jittor)."""
import math
import os
import stat
import warnings

import numpy as np
from PIL import Image, ImageOps

from cli import UsageError

SKIPPED_LOG = "resize_skipped.txt"  # written by resize.py beside the resolution folders
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def is_image_name(name):
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def list_images(folder):
    """Relative paths of every image file below folder (nested folders too), sorted."""
    found = []
    for directory, subdirectories, names in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        found += [os.path.relpath(os.path.join(directory, n), folder)
                  for n in names if is_image_name(n) and not n.startswith(".")]
    return sorted(found)


def _composite_on_white(image):
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, image.convert("RGBA")).convert("RGB")


def to_rgb(image):
    """8-bit RGB from any mode: alpha composited on white, 16/32-bit and float rescaled."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I") and values.max() > 255 else 255.0
        if image.mode == "F":
            top = max(float(values.max()), 1.0)
        gray = np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return _composite_on_white(image)
    return image.convert("RGB") if image.mode != "RGB" else image


def center_crop_square(image):
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return image.crop((left, top, left + side, top + side)) if width != height else image


def pad_square(image):
    """The whole image, centred on a black square (NVIDIA's LSUN cars: black bands)."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    square = Image.new("RGB", (side, side))
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


FITS = {"crop": center_crop_square, "pad": pad_square}


class UnreadableImage(Exception):
    """An image file that cannot be used; the message is one line naming why."""


def load_square_rgb(path, fit="crop"):
    """Open an image file as a square RGB image (EXIF orientation applied, centre-cropped, or
    with fit="pad" centred on black).

    Raises UnreadableImage for anything that is not a decodable image of sane size: an empty
    or truncated file, text named .png, a decompression bomb, a pipe (which would block),
    a symlink loop, a file we may not read."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UnreadableImage("not a regular file")
        with warnings.catch_warnings():
            # above Pillow's pixel limit: a decompression bomb, not a training image
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image = ImageOps.exif_transpose(image)
                image.load()
                return FITS[fit](to_rgb(image))
    except UnreadableImage:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, MemoryError) as error:
        reason = (error.strerror if isinstance(error, OSError) and error.strerror
                  else str(error) or type(error).__name__)
        raise UnreadableImage(f"{type(error).__name__}: {reason}".splitlines()[0]) from None


def resized(image, size):
    if image.size == (size, size):
        return image
    return image.resize((size, size), Image.LANCZOS, reducing_gap=3.0)


def to_training_array(image):
    """HWC uint8 image -> CHW float32 in [-1, 1]."""
    array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1)
    return array * (2 / 255) - 1


def to_uint8_images(array):
    """NCHW float images in [-1, 1] -> NHWC uint8 (rounded, clipped)."""
    array = np.asarray(array, dtype=np.float32)
    return np.clip((array + 1) * 127.5 + 0.5, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def grid_zoom(cell_size, zoom=0):
    """How many screen pixels per image pixel a grid gets: `zoom`, or with 0 the least
    whole factor that shows each cell at 64 px or more (a 16 px model's 6 x 6 grid would
    be a 110-pixel image)."""
    return zoom if zoom > 0 else max(1, math.ceil(64 / cell_size))


def image_grid(array, n_col, padding=2, background=255, zoom=1):
    """Tile NCHW images in [-1, 1] row by row, n_col per row, into one PIL image, enlarged
    `zoom` times by nearest neighbour (so pixels stay pixels)."""
    tiles = to_uint8_images(array)
    count, height, width, _ = tiles.shape
    n_row = -(-count // n_col)
    grid = np.full((n_row * (height + padding) + padding, n_col * (width + padding) + padding, 3),
                   background, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        top = padding + (index // n_col) * (height + padding)
        left = padding + (index % n_col) * (width + padding)
        grid[top:top + height, left:left + width] = tile
    if zoom > 1:
        grid = grid.repeat(zoom, 0).repeat(zoom, 1)
    return Image.fromarray(grid)


class WriteFailed(UsageError):
    """An image could not be written (disk full, folder gone read-only); names the file."""

    def __init__(self, path, reason):
        super().__init__(f"{path}: cannot write the image ({reason}); any earlier file there "
                         "is kept")
        self.strerror = reason


def save_image_atomically(image, path, format=None, **options):
    """Write to a temp file, then rename: a crash never leaves a half-written image."""
    directory = os.path.dirname(os.path.abspath(path))
    temp_path = os.path.join(directory, f".{os.path.basename(path)}.tmp{os.getpid()}")
    format = format or Image.registered_extensions()[os.path.splitext(path)[1].lower()]
    try:
        os.makedirs(directory, exist_ok=True)
        image.save(temp_path, format=format, **options)
        os.replace(temp_path, path)
    except OSError as error:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise WriteFailed(path, error.strerror or error) from None
