"""Photos from phones, made safe before they are stored (docs/inspections.md).

- Only real JPEG, PNG and WebP images (Pillow opens and verifies them; the name means nothing).
- A size cap in bytes and in pixels: decompression bombs are refused, never decoded.
- The orientation from EXIF is applied, then every metadata is dropped (EXIF with the GPS
  position, XMP, ICC comments): the stored file is a fresh JPEG made from pixels only.
- Resized to a maximum side, with a thumbnail.

Call process() outside any database transaction: decoding a large photo takes time, and SQLite's
IMMEDIATE transactions would hold the write lock meanwhile.
"""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from backend.core.errors import ServiceError

ACCEPTED = {"JPEG", "PNG", "WEBP"}


@dataclass(frozen=True)
class Processed:
    image: bytes
    thumbnail: bytes
    width: int
    height: int


class ImageRefused(ServiceError):
    status = 422
    code = "invalid_image"


def check_size(size: int, code: str = ImageRefused.code) -> None:
    """Refuse a photo by its (declared) size, before anything of it is read."""
    if size > settings.PHOTO_MAX_BYTES:
        raise ImageRefused(
            _("The file is too large (at most %(size)d MB).")
            % {"size": settings.PHOTO_MAX_BYTES // 1_000_000},
            code=code,
        )


def read_upload(upload) -> bytes | None:
    """The bytes of an uploaded file, refused by its declared size before anything is read."""
    if upload is None:
        return None
    if upload.size is not None:
        check_size(upload.size)
    return upload.read()


def _read(data: bytes) -> Image.Image:
    check_size(len(data))
    # Image.open() reads the header only; the pixel count is checked before anything is decoded
    # (Pillow itself refuses beyond twice its MAX_IMAGE_PIXELS).
    try:
        with warnings.catch_warnings():
            # Pillow warns beyond MAX_IMAGE_PIXELS; our own, lower cap below decides.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
        with probe:
            kind = probe.format
            width, height = probe.size
            probe.verify()
    except Image.DecompressionBombError:
        raise ImageRefused(_("The image has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise ImageRefused(_("This file is not an image (JPEG, PNG or WebP expected).")) from None
    if kind not in ACCEPTED:
        raise ImageRefused(_("Only JPEG, PNG and WebP images are accepted."))
    if width * height > settings.PHOTO_MAX_PIXELS:
        raise ImageRefused(
            _("The image has too many pixels (%(mp)d megapixels at most).")
            % {"mp": settings.PHOTO_MAX_PIXELS // 1_000_000}
        )
    image = Image.open(io.BytesIO(data))  # verify() leaves the image unusable: open it again
    try:
        image.load()
    except (OSError, Image.DecompressionBombError):
        raise ImageRefused(_("The image is damaged.")) from None
    return image


def _jpeg(image: Image.Image, side: int, quality: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # A new JPEG from pixels only: no exif=, no icc_profile=, no comment: nothing but the image.
    copy.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def process(data: bytes) -> Processed:
    image = _read(data)
    image = ImageOps.exif_transpose(image)  # the phone's orientation, before EXIF is dropped
    if image.mode not in ("RGB", "L"):
        background = Image.new("RGB", image.size, "white")
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            background.paste(image, mask=image.getchannel("A"))
        else:
            background.paste(image.convert("RGB"))
        image = background
    main = _jpeg(image, settings.PHOTO_MAX_SIDE, 85)
    thumb = _jpeg(image, settings.PHOTO_THUMBNAIL_SIDE, 75)
    with Image.open(io.BytesIO(main)) as stored:
        width, height = stored.size
    return Processed(main, thumb, width, height)


def process_signature(data: bytes) -> bytes:
    """A signature drawn on the screen (PNG from a canvas), as a small PNG without metadata."""
    image = _read(data)
    if image.width < 50 or image.height < 20:
        raise ImageRefused(_("The signature image is too small."))
    if image.mode != "RGBA":
        image = image.convert("RGBA")
    image.thumbnail((800, 400))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
