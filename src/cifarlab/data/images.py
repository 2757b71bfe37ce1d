"""Image files of any size and mode as the models' input: decoded with Pillow, refused when too large
or not a regular file, converted to RGB and resized to 32x32 uint8."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..core.errors import CifarlabError, UnsafeFileError
from ..core.fileio import open_file

# Larger images are refused unread: the model sees 32x32, and a 40-megapixel photo (7.3k x 5.5k) is
# already more than any camera image a user would pass; PIL's own bomb guard stops only at ~179M.
MAX_PIXELS = 40_000_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageError(CifarlabError):
    """A file that cannot be read as an image."""


def to_rgb_uint8(image) -> np.ndarray:
    """A PIL image of any mode -> (32, 32, 3) uint8 RGB, resized with a box-filtered bicubic.

    16-bit and 32-bit modes ('I;16', 'I') are scaled to 8 bits first (PIL's convert would clip them);
    transparency is composited on white, as image viewers show it.
    """
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or arr.max() > 255 else 255.0
        image = Image.fromarray(np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("RGB")
    if image.size != (32, 32):
        image = image.resize((32, 32), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return np.array(image, dtype=np.uint8)  # a writable copy (torch.from_numpy warns on a read-only view)


def read_image(path: str | Path) -> np.ndarray:
    """One image file as (32, 32, 3) uint8 RGB; an ImageError (one line) for anything unreadable.

    Images over :data:`MAX_PIXELS` are refused from their header, before any pixel is decoded: a
    few-hundred-KB PNG can declare 20000x20000 pixels and would take gigabytes to decode. The path
    may be a symlink (the user typed it) but must end at a regular file: a FIFO or device is refused
    without blocking.
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_file(path, "rb", follow=True) as f, Image.open(f) as im:
                width, height = im.size
                if width * height > MAX_PIXELS:
                    raise ImageError(
                        f"{path}: {width}x{height} pixels is over the {MAX_PIXELS:,}-pixel limit; downscale it first"
                    )
                im.load()
                return to_rgb_uint8(im)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnsafeFileError as e:  # a FIFO, device, socket or folder
        raise ImageError(str(e)) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{path}: too many pixels to decode safely (over PIL's bomb limit); downscale it first"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{path}: not a readable image ({type(e).__name__})") from None


def as_batch(images: Iterable) -> torch.Tensor:
    """Paths, PIL images, HWC uint8 arrays or CHW tensors -> uint8 tensor (N, 3, 32, 32)."""
    out = []
    for im in images:
        if isinstance(im, (str, Path)):
            arr = read_image(im)
        elif isinstance(im, torch.Tensor):
            t = im if im.dtype == torch.uint8 else (im.clamp(0, 1) * 255).round().to(torch.uint8)
            out.append(t)
            continue
        elif isinstance(im, np.ndarray):
            arr = im
        else:  # a PIL image
            arr = to_rgb_uint8(im)
        out.append(torch.from_numpy(np.array(arr, copy=True)).permute(2, 0, 1))  # a writable copy
    return torch.stack(out)


def expand_inputs(items: Sequence[str | Path]) -> list[Path]:
    """Files as given; folders expanded to the image files directly inside them (sorted)."""
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            paths += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file())
        else:
            paths.append(p)
    return paths
