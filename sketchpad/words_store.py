"""Where taught words live on disk: one Quick, Draw! ndjson file per word, per pack.

``<words_dir>/<pack>/<stem>.ndjson`` holds every example of one word, one drawing a line
(``{"word": NAME, "key_id": ..., "drawing": [[xs], [ys], [ts]]}``), so a words folder can be
read by any Quick, Draw! tool and a word outlives a retrained pack: ink is stored, never features.
``<stem>.features.npz`` next to it caches the examples' search features, keyed by the sha256 of
the ndjson bytes and a fingerprint of the pack's models; a missing or stale cache is recomputed.

Every write is atomic and durable (temporary file in the same folder, ``fsync``, rename,
``fsync`` of the folder): a process killed mid-write leaves the old file or the new one, never a
mixture. A file that does not read back as one word's drawings (corrupt, empty, foreign, or
clashing with a pack class or another word) is reported as a :class:`WordProblem` and skipped;
the other words keep working.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Mapping
from urllib.parse import quote, unquote

import numpy as np

from .ink import Sketch, SketchError, parse_line, sketch_to_drawing
from .npyheader import NPZ_ERRORS
from .pack import user_data_dir

#: Environment variable naming the words folder (``--words-dir`` sets it for the app).
WORDS_ENV = "SKETCHPAD_WORDS"
MAX_NAME_LENGTH = 64
SUFFIX = ".ndjson"
CACHE_SUFFIX = ".features.npz"


class WordsError(ValueError):
    """A request about words that cannot be met; the message says why in one sentence."""


def default_words_dir() -> Path:
    """``$SKETCHPAD_WORDS``, else ``sketchpad/words`` in the user data folder (beside the user
    packs of :func:`sketchpad.pack.user_packs_dir`)."""
    return user_data_dir(WORDS_ENV, "words")


# --- names ---------------------------------------------------------------------------------------
def clash_key(name: str) -> str:
    """What two names must not share: case, spaces, underscores and hyphens folded away, so
    "Snow man", "snow_man", "SNOWMAN" and "snow-man" are one word (and "alarmclock" is the pack's
    "alarm clock")."""
    return re.sub(r"[\s_\-]+", "", unicodedata.normalize("NFKC", name).casefold())


def check_name(name: str) -> str:
    """The name as it will be shown (trimmed, inner spaces collapsed), or :class:`WordsError`."""
    shown = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", str(name))).strip()
    if not shown:
        raise WordsError("a word needs a name")
    if len(shown) > MAX_NAME_LENGTH:
        raise WordsError(f"a word's name has at most {MAX_NAME_LENGTH} characters "
                         f"({len(shown)} given)")
    if any(unicodedata.category(c).startswith("C") for c in shown):
        raise WordsError(f"the name {shown!r} holds a control character")
    if not clash_key(shown) or not any(c.isalnum() for c in shown):
        raise WordsError(f"the name {shown!r} needs at least one letter or digit")
    return shown


def file_stem(name: str) -> str:
    """The file name of a word: its clash key, made safe for every file system."""
    return quote(clash_key(name), safe="")


def pack_folder(root: Path, pack_name: str) -> Path:
    return Path(root) / quote(pack_name, safe=" -_.")


# --- durable writes ------------------------------------------------------------------------------
def _fsync_folder(folder: Path) -> None:
    """Make a rename durable; folders cannot be opened for syncing on Windows (nothing to do)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` so that a crash at any moment leaves the old or new file;
    ``durable`` also waits until both are on the disk (``fsync``), so a power cut loses nothing
    (a cache that can be recomputed skips that wait)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        _fsync_folder(path.parent)


# --- one word's file -----------------------------------------------------------------------------
@dataclass(frozen=True)
class WordProblem:
    """A words file that was skipped, and why (shown by ``sketchpad words list``)."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class StoredWord:
    """One word's file as read: its name, examples' byte offsets, and cached features if valid.

    ``lines`` are the file's lines (bytes with their newline), kept so that adding an example,
    renaming or exporting never re-parses or re-embeds the others."""

    name: str
    path: Path
    digest: str
    lines: tuple[bytes, ...] = field(repr=False)
    features: dict[str, np.ndarray] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return clash_key(self.name)

    @property
    def n_examples(self) -> int:
        return len(self.lines)

    @property
    def cache_path(self) -> Path:
        return cache_path(self.path)

    def sketch(self, row: int) -> Sketch:
        return parse_line(self.lines[row].decode("utf-8"), f"{self.path}:{row + 1}")

    def sketches(self) -> Iterator[Sketch]:
        for row in range(len(self.lines)):
            yield self.sketch(row)


def encode_examples(name: str, sketches: Iterable[Sketch], first: int = 1) -> list[bytes]:
    """Sketches as ndjson lines of ``name``; an empty drawing is refused with its number."""
    lines = []
    for i, sketch in enumerate(sketches, first):
        if not isinstance(sketch, Sketch):
            raise WordsError(f"example {i} is not a drawing")
        if sketch.is_empty:
            raise WordsError(f"example {i} of {name!r} is an empty drawing")
        obj = sketch_to_drawing(replace(sketch, label=name), with_time=True)
        lines.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
    return lines


def digest_of(lines: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for line in lines:
        h.update(line)
    return h.hexdigest()


def _split_lines(data: bytes) -> list[bytes]:
    lines = [line if line.endswith(b"\n") else line + b"\n"
             for line in io.BytesIO(data).readlines() if line.strip()]
    return lines


def cache_path(path: Path) -> Path:
    return path.with_name(path.name[:-len(SUFFIX)] + CACHE_SUFFIX)


def read_word_file(path: Path, fingerprint: str | None = None) -> StoredWord:
    """Read and check one words file; :class:`WordsError` says what is wrong with it.

    With ``fingerprint``, a cache of features made from these very bytes by those models is read
    too, and then the drawings are not parsed again (they were checked when it was written):
    a word of 10,000 examples loads in the time it takes to hash its file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WordsError(f"cannot be read ({exc.strerror})") from None
    lines = _split_lines(data)
    if not lines:
        raise WordsError("holds no examples")
    digest = digest_of(lines)
    cached = read_cache(cache_path(path), digest, fingerprint, len(lines)) if fingerprint else None
    if cached is not None and path.name == file_stem(cached[0]) + SUFFIX:
        return StoredWord(cached[0], path, digest, tuple(lines), cached[1])
    name = None
    for row, line in enumerate(lines, 1):
        try:
            sketch = parse_line(line.decode("utf-8"), f"line {row}")
        except UnicodeDecodeError:
            raise WordsError(f"line {row}: not UTF-8 text") from None
        except SketchError as exc:
            raise WordsError(str(exc)) from None
        if sketch.is_empty:
            raise WordsError(f"line {row}: an empty drawing")
        if not isinstance(sketch.label, str) or not sketch.label.strip():
            raise WordsError(f"line {row}: no \"word\"")
        if name is None:
            name = sketch.label
        elif clash_key(sketch.label) != clash_key(name):
            raise WordsError(f"line {row} is a {sketch.label!r}, line 1 a {name!r}: "
                             f"a words file holds one word")
    assert name is not None
    expected = file_stem(name) + SUFFIX
    if path.name != expected:
        raise WordsError(f"holds the word {name!r}, whose file would be {expected}")
    return StoredWord(name, path, digest, tuple(lines))


# --- the cache of features -----------------------------------------------------------------------
def read_cache(path: Path, digest: str, fingerprint: str, n: int
               ) -> tuple[str, dict[str, np.ndarray]] | None:
    """(word, features) cached at ``path`` if computed from the bytes with ``digest`` by the
    models with ``fingerprint``, else None (absent, stale or unreadable: all mean "embed again")."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["digest"]) != digest or str(data["fingerprint"]) != fingerprint:
                return None
            name = str(data["name"])
            feats = {k.removeprefix("feature_"): data[k] for k in data.files
                     if k.startswith("feature_")}
    except (KeyError, *NPZ_ERRORS):
        return None
    if not feats or any(len(v) != n for v in feats.values()):
        return None
    return name, feats


def write_cache(word: StoredWord, fingerprint: str, features: Mapping[str, np.ndarray]) -> None:
    """Cache the examples' features next to the word (atomic, not fsynced: a lost cache is
    recomputed)."""
    buf = io.BytesIO()
    np.savez(buf, digest=np.str_(word.digest), fingerprint=np.str_(fingerprint),
             name=np.str_(word.name),
             **{f"feature_{d}": np.asarray(v, np.float32) for d, v in features.items()})
    atomic_write(word.cache_path, buf.getvalue(), durable=False)


# --- a pack's folder -----------------------------------------------------------------------------
class WordStore:
    """The words files of one pack. Knows nothing of models: it reads, checks, and writes ink."""

    def __init__(self, root: Path, pack_name: str, reserved: Iterable[str] = ()):
        self.folder = pack_folder(root, pack_name)
        #: Clash key → pack class name: a word may not take a class's name.
        self.reserved = {clash_key(c): c for c in reserved}

    def path_for(self, name: str) -> Path:
        return self.folder / (file_stem(name) + SUFFIX)

    def scan(self, fingerprint: str | None = None) -> tuple[list[StoredWord], list[WordProblem]]:
        """Every good words file (in name order, with their cached features for the models of
        ``fingerprint`` when valid) and every bad one with its reason."""
        words: list[StoredWord] = []
        problems: list[WordProblem] = []
        if not self.folder.is_dir():
            return words, problems
        for path in sorted(self.folder.glob("*" + SUFFIX)):
            if path.name.startswith("."):
                continue
            try:
                word = read_word_file(path, fingerprint)
            except WordsError as exc:
                problems.append(WordProblem(path, str(exc)))
                continue
            if word.key in self.reserved:
                problems.append(WordProblem(path, f"{word.name!r} is the pack's class "
                                                  f"{self.reserved[word.key]!r}"))
                continue
            words.append(word)
        return words, problems

    def check_new_name(self, name: str, words: Iterable[StoredWord], allow: str | None = None
                       ) -> str:
        """``name`` checked as a new word's name: not a pack class, not another word
        (``allow`` names a word it may equal: itself, when renaming "Cat" to "cat")."""
        shown = check_name(name)
        key = clash_key(shown)
        if key in self.reserved:
            raise WordsError(f"{shown!r} is already a class of this pack "
                             f"({self.reserved[key]!r})")
        for w in words:
            if w.key == key and (allow is None or clash_key(allow) != key):
                raise WordsError(f"{shown!r} is already a word ({w.name!r})")
        return shown

    def write(self, name: str, lines: list[bytes], path: Path | None = None) -> StoredWord:
        """Write one word's whole file atomically and return it as stored."""
        if not lines:
            raise WordsError(f"{name!r} needs at least one example")
        path = path or self.path_for(name)
        atomic_write(path, b"".join(lines))
        return StoredWord(name, path, digest_of(lines), tuple(lines))

    def delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        cache_path(path).unlink(missing_ok=True)
        _fsync_folder(path.parent)


def renamed_lines(lines: Iterable[bytes], name: str) -> list[bytes]:
    """The same drawings under a new ``"word"`` (every other field kept as it was)."""
    out = []
    for line in lines:
        obj = json.loads(line)
        obj["word"] = name
        out.append(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
    return out


def stem_name(path: Path) -> str:
    """A readable name for a words file that could not be read (for ``words remove``)."""
    return unquote(path.name[:-len(SUFFIX)])
