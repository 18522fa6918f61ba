"""Text out of PDF and Word (.docx) documents, for corpus folders that hold them (CoFE-RAG's released documents).

PDF through pypdf (text of each page, pages joined by a blank line), DOCX through python-docx (paragraphs joined by
newlines, then each table's cells row by row). Both are the optional extra ``ragsweep[documents]`` (`make install`
has it); a folder holding such a file without the library is one line saying what to install. Extracted text is
cached by the file's SHA-256 and the extractor's version (``<cache>/extracted/``), so a document is parsed once
however many suites and runs read it. A file that cannot be parsed, or yields no text (a scanned PDF without a text
layer), is one line naming it.
"""

from __future__ import annotations

import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Callable

from ragsweep.errors import DataError
from ragsweep.store.cache import read_checked, write_checked

DOCUMENT_SUFFIXES = (".pdf", ".docx")
_LIBRARY = {".pdf": ("pypdf", "pypdf"), ".docx": ("docx", "python-docx")}


def _pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n\n".join((page.extract_text() or "").strip() for page in PdfReader(str(path)).pages).strip()


def _docx_text(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += ["\t".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n".join(parts).strip()


_EXTRACT: dict[str, Callable[[Path], str]] = {".pdf": _pdf_text, ".docx": _docx_text}


def _library_version(path: Path) -> str:
    module, distribution = _LIBRARY[path.suffix.lower()]
    try:
        __import__(module)
        return version(distribution)
    except (ImportError, PackageNotFoundError):
        raise DataError(path, f"reading {path.suffix.lower()} documents needs {distribution}: pip install 'ragsweep[documents]'") from None


def document_text(path: Path, cache_dir: Path) -> str:
    """The text of a .pdf or .docx file, from the cache when this content was extracted before."""
    suffix = path.suffix.lower()
    raw = path.read_bytes()
    library = _library_version(path)
    key = hashlib.sha256(raw + f"\0{suffix}\0{library}".encode()).hexdigest()
    cached = cache_dir / "extracted" / key[:2] / f"{key}.txt"
    ok, text = read_checked(cached, lambda b: b.decode("utf-8"))
    if ok:
        return text
    try:
        text = _EXTRACT[suffix](path)
    except Exception as err:  # a damaged file fails inside the library in many ways; all mean the same here
        raise DataError(path, f"cannot be read as {suffix} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    if not text.strip():
        raise DataError(path, f"no text could be extracted (a {suffix} without a text layer, such as a scan, needs OCR first)")
    write_checked(cached, text.encode("utf-8"))
    return text
