"""Reading a PDF's text back, as a reader would type it (poppler's pdftotext)."""

import shutil
import subprocess
import unicodedata

from tests.conftest import _missing


def pdf_text(content: bytes, tmp_path) -> str:
    """The text of a PDF, as a reader would type it.

    pdftotext (poppler 22) writes Arabic in logical order, each right-to-left run wrapped in
    bidi embedding marks (U+202B ... U+202C) and left-to-right runs inside it in U+202A: those
    are format characters (category Cf) and are dropped here. NFKC maps any Arabic
    presentation form (a shaped glyph's code point) back to its letter. `-raw` is no use: it
    keeps the content stream's visual order, so Arabic comes out reversed and split."""
    if shutil.which("pdftotext") is None:
        _missing("pdftotext (Debian package poppler-utils)")
    path = tmp_path / "manifest.pdf"
    path.write_bytes(content)
    out = subprocess.run(  # noqa: S603 (our own file, a fixed command)
        ["pdftotext", "-layout", str(path), "-"],  # noqa: S607 (poppler's, found on PATH)
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = "".join(c for c in out if unicodedata.category(c) != "Cf")
    return unicodedata.normalize("NFKC", text)
