#!/usr/bin/env python3
"""The preparation steps of scripts/get-data.sh: downloaded public files in, the TSV corpora of
docs/benchmarks.md out (`portuguese<TAB>english`, one pair per line, UTF-8, "\\n" after every
line). Python's standard library only; get-data.sh checks every output against the SHA-256 sums
in scripts/corpora/SHA256SUMS, so a step that drifts is caught there.

  prepare-data.py paste --out FILE POR ENG
      Line i of POR and line i of ENG become line i of FILE (a leading byte-order mark, "\\r"
      and surrounding whitespace dropped). Used for FLORES-200 devtest and NTREX-128.

  prepare-data.py select --keys DIR --out DIR POR ENG [POR ENG ...]
      Every pair of every POR/ENG file pair becomes a candidate; each DIR/NAME.keys file lists,
      one per line, the key of each line of the output OUT/NAME.tsv, in order. A key is the
      first 10 hex digits of the SHA-256 of the UTF-8 line "pt<TAB>en". Used for Tatoeba: the
      union of three test releases, split into train/dev/test and ordered by a preparation
      that cannot be re-derived from the releases, so the committed keys record it.

  prepare-data.py libreoffice --out FILE EN_DEB PT_DEB
      Paragraphs and headings with the same id in the same help page of Debian's
      libreoffice-help-en-us and libreoffice-help-pt-br packages, read straight from the .deb
      files (no dpkg needed). Pairs whose Portuguese equals the English (untranslated), with
      fewer than 3 or more than 60 English words, or with a UTF-8 length ratio pt/en outside
      0.5–2.2 are dropped, and so are repeats of an earlier pair.

Each command writes its outputs through a temporary file and a rename, and exits with status 1
and a message naming the file (and line) on any problem with its inputs.
"""

import argparse
import hashlib
import html.parser
import io
import os
import re
import sys
import tarfile
import unicodedata

KEY_HEX_DIGITS = 10


class PrepError(Exception):
    pass


# ------------------------------------------------------------------------------------------------
# Text files in, TSV out.

def read_lines(path):
    """The lines of a UTF-8 text file, without their "\\n" or "\\r\\n" (no line after a final
    "\\n"), the byte-order mark of the first line dropped."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise PrepError(f"{path}: cannot read: {e.strerror}") from e
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise PrepError(f"{path}:{number}: not UTF-8 ({e.reason} at byte {e.start})") from e
        if number == 1:
            text = text.lstrip("\ufeff")
        out.append(text.rstrip("\r"))
    return out


def read_pairs(por_path, eng_path):
    por, eng = read_lines(por_path), read_lines(eng_path)
    if len(por) != len(eng):
        raise PrepError(f"{por_path} has {len(por)} lines but {eng_path} has {len(eng)}: "
                        f"not a line-aligned pair of files")
    for number, (p, e) in enumerate(zip(por, eng), 1):
        for path, text in ((por_path, p), (eng_path, e)):
            if "\t" in text:
                raise PrepError(f"{path}:{number}: a tab inside a sentence would break the TSV")
    return list(zip(por, eng))


def write_text(path, lines):
    """Writes lines, each followed by "\\n", to path through path + ".tmp" and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line + "\n")
        os.replace(tmp, path)
    except OSError as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise PrepError(f"{path}: cannot write: {e.strerror}") from e


def paste(por_path, eng_path):
    return [f"{p.strip()}\t{e.strip()}" for p, e in read_pairs(por_path, eng_path)]


# ------------------------------------------------------------------------------------------------
# Selecting and ordering pairs by committed keys.

def line_key(line):
    return hashlib.sha256(line.encode("utf-8")).hexdigest()[:KEY_HEX_DIGITS]


def _variants(p, e):
    """The forms a source pair may take in the prepared files: as it is without surrounding
    whitespace, with runs of whitespace made one space, and that in Unicode NFC."""
    stripped = (p.strip(), e.strip())
    spaced = (" ".join(p.split()), " ".join(e.split()))
    nfc = tuple(unicodedata.normalize("NFC", s) for s in spaced)
    seen = []
    for v in (stripped, spaced, nfc):
        if v not in seen:
            seen.append(v)
    return seen


def candidate_index(file_pairs):
    """{key: line} over every pair of every (POR, ENG) file pair; a key that two different
    lines share is kept as None (ambiguous)."""
    index = {}
    for por_path, eng_path in file_pairs:
        for p, e in read_pairs(por_path, eng_path):
            for vp, ve in _variants(p, e):
                line = f"{vp}\t{ve}"
                key = line_key(line)
                if index.get(key, line) != line:
                    index[key] = None
                elif key not in index:
                    index[key] = line
    return index


def read_keys(path):
    keys = []
    for number, text in enumerate(read_lines(path), 1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        if not re.fullmatch(f"[0-9a-f]{{{KEY_HEX_DIGITS}}}", text):
            raise PrepError(f"{path}:{number}: not a key ({KEY_HEX_DIGITS} hex digits): {text!r}")
        keys.append(text)
    if not keys:
        raise PrepError(f"{path}: no keys")
    return keys


def select(keys_path, index):
    lines, missing, ambiguous = [], [], []
    for key in read_keys(keys_path):
        line = index.get(key, "")
        if line is None:
            ambiguous.append(key)
        elif not line:
            missing.append(key)
        else:
            lines.append(line)
    if missing or ambiguous:
        raise PrepError(
            f"{keys_path}: listed pairs in none of the source files: {len(missing)}"
            + (f" (first: {missing[0]})" if missing else "")
            + (f"; keys that match two different pairs: {len(ambiguous)} (first: {ambiguous[0]})"
               if ambiguous else "")
            + ": the sources are not the ones the keys were made from")
    return lines


# ------------------------------------------------------------------------------------------------
# LibreOffice help pages from two Debian packages.

# The help folders in the order the reference preparation walked them (its file system's
# directory order; the files of one folder in sorted order). Fixed here so that the result does
# not depend on the file system. A folder not listed comes after these, sorted, with a warning.
LIBREOFFICE_FOLDERS = """
. text/shared text/shared/optionen text/shared/autokorr text/shared/autopi text/shared/00
text/shared/07 text/shared/menu text/shared/05 text/shared/02 text/shared/04 text/shared/help
text/shared/guide text/shared/06 text/shared/01 text/sdraw text/sdraw/00 text/sdraw/04
text/sdraw/guide text/sdraw/01 text/sbasic/shared text/sbasic/shared/03 text/sbasic/shared/02
text/sbasic/shared/01 text/sbasic/python text/sbasic/guide text/sdatabase text/swriter
text/swriter/00 text/swriter/librelogo text/swriter/menu text/swriter/02 text/swriter/04
text/swriter/guide text/swriter/01 text/smath text/smath/00 text/smath/02 text/smath/04
text/smath/guide text/smath/06 text/smath/01 text/schart text/schart/00 text/schart/02
text/schart/04 text/schart/01 text/simpress text/simpress/00 text/simpress/02 text/simpress/04
text/simpress/guide text/simpress/01 text/scalc text/scalc/00 text/scalc/05 text/scalc/02
text/scalc/04 text/scalc/guide text/scalc/06 text/scalc/01
""".split()

HELP_ROOT = "usr/share/libreoffice/help/"
MIN_WORDS, MAX_WORDS = 3, 60
MIN_RATIO, MAX_RATIO = 0.5, 2.2


def deb_data_tar(path):
    """The data.tar member of a .deb (an ar archive) as an open tarfile."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise PrepError(f"{path}: cannot read: {e.strerror}") from e
    if not raw.startswith(b"!<arch>\n"):
        raise PrepError(f"{path}: not a Debian package (no ar archive signature)")
    pos = 8
    while pos + 60 <= len(raw):
        head = raw[pos:pos + 60]
        name = head[:16].decode("ascii", "replace").strip().rstrip("/")
        try:
            size = int(head[48:58].decode("ascii").strip())
        except ValueError:
            raise PrepError(f"{path}: corrupt ar member header at byte {pos}") from None
        if head[58:60] != b"`\n" or pos + 60 + size > len(raw):
            raise PrepError(f"{path}: corrupt or truncated ar member {name!r} at byte {pos}")
        body = raw[pos + 60:pos + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                raise PrepError(f"{path}: {name} is zstd-compressed, which Python's tarfile "
                                f"cannot read")
            try:
                return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
            except tarfile.TarError as e:
                raise PrepError(f"{path}: {name}: {e}") from e
        pos += 60 + size + (size & 1)
    raise PrepError(f"{path}: no data.tar member: not a Debian binary package")


def help_pages(deb_path):
    """(language folder, {relative path: html text}) of the help pages in a help package."""
    pages, languages = {}, set()
    tar = deb_data_tar(deb_path)
    with tar:
        for member in tar:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if not name.startswith(HELP_ROOT) or not name.endswith(".html") or not member.isfile():
                continue
            parts = name[len(HELP_ROOT):].split("/", 1)
            if len(parts) != 2 or parts[0] == "media":
                continue
            raw = tar.extractfile(member).read()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise PrepError(f"{deb_path}: {name}: not UTF-8 at byte {e.start}") from e
            languages.add(parts[0])
            # As a file opened in text mode reads it (universal newlines).
            pages[parts[1]] = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(languages) != 1:
        raise PrepError(f"{deb_path}: expected the help pages of one language under "
                        f"{HELP_ROOT}, found {sorted(languages) or 'none'}")
    return languages.pop(), pages


class _Paragraphs(html.parser.HTMLParser):
    """The text of every <p> and <h1>–<h6> whose id starts with par_id or hd_id, in the order
    the elements close; <br> is a space."""
    VOID = {"br", "img", "meta", "link", "input", "hr", "area", "base", "col", "embed", "source",
            "track", "wbr"}
    TAGS = {"p", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, id or None, text pieces)
        self.found = []  # (id, text)

    def handle_starttag(self, tag, attrs):
        if tag == "br" and self.stack:
            self.stack[-1][2].append(" ")
        if tag in self.VOID:
            return
        ident = dict(attrs).get("id") or ""
        keep = tag in self.TAGS and re.match(r"(par|hd)_id", ident)
        self.stack.append((tag, ident if keep else None, []))

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        while self.stack:  # close everything up to the matching start tag
            open_tag, ident, pieces = self.stack.pop()
            text = "".join(pieces)
            if self.stack:
                self.stack[-1][2].append(text)
            if ident:
                self.found.append((ident, text))
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)


def paragraphs(page):
    """{id: text, whitespace runs made one space}, the first element of each id only."""
    parser = _Paragraphs()
    parser.feed(page)
    parser.close()
    out = {}
    for ident, text in parser.found:
        out.setdefault(ident, " ".join(text.split()))
    return out


def page_order(paths, warn):
    folders = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        folders.setdefault(folder or ".", []).append(path)
    order = [f for f in LIBREOFFICE_FOLDERS if f in folders]
    extra = sorted(set(folders) - set(LIBREOFFICE_FOLDERS))
    if extra:
        warn(f"help folders not in the recorded order, taken last: {' '.join(extra)}")
    return [p for f in order + extra for p in sorted(folders[f])]


def libreoffice_pairs(en_deb, pt_deb, warn=lambda message: None):
    en_lang, en_pages = help_pages(en_deb)
    pt_lang, pt_pages = help_pages(pt_deb)
    if (en_lang, pt_lang) != ("en-US", "pt-BR"):
        raise PrepError(f"expected the en-US and pt-BR help packages, got {en_lang} ({en_deb}) "
                        f"and {pt_lang} ({pt_deb})")
    lines, seen = [], set()
    for path in page_order(en_pages, warn):
        if path not in pt_pages:
            continue
        pt = paragraphs(pt_pages[path])
        for ident, e in paragraphs(en_pages[path]).items():
            p = pt.get(ident)
            if not p or not e or p == e:
                continue
            if not MIN_WORDS <= len(e.split()) <= MAX_WORDS:
                continue
            if not MIN_RATIO <= len(p.encode("utf-8")) / len(e.encode("utf-8")) <= MAX_RATIO:
                continue
            if (p, e) in seen:
                continue
            seen.add((p, e))
            lines.append(f"{p}\t{e}")
    return lines


# ------------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(prog="prepare-data.py", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("paste", help="two line-aligned files to one TSV")
    p.add_argument("--out", required=True)
    p.add_argument("por")
    p.add_argument("eng")
    p = sub.add_parser("select", help="pairs of the sources in the order of committed keys")
    p.add_argument("--keys", required=True, help="folder of NAME.keys files")
    p.add_argument("--out", required=True, help="folder for NAME.tsv")
    p.add_argument("files", nargs="+", metavar="POR ENG")
    p = sub.add_parser("libreoffice", help="aligned help paragraphs from two .deb files")
    p.add_argument("--out", required=True)
    p.add_argument("en_deb")
    p.add_argument("pt_deb")
    a = ap.parse_args(argv)

    def warn(message):
        print(f"prepare-data.py: warning: {message}", file=sys.stderr)

    try:
        if a.command == "paste":
            lines = paste(a.por, a.eng)
            write_text(a.out, lines)
            print(f"{a.out}: {len(lines)} pairs")
        elif a.command == "select":
            if len(a.files) % 2:
                raise PrepError("select needs the sources as POR ENG pairs (an even number of "
                                f"files, got {len(a.files)})")
            names = sorted(n[:-len(".keys")] for n in os.listdir(a.keys) if n.endswith(".keys"))
            if not names:
                raise PrepError(f"{a.keys}: no .keys files")
            index = candidate_index(list(zip(a.files[0::2], a.files[1::2])))
            chosen = {n: select(os.path.join(a.keys, n + ".keys"), index) for n in names}
            for name, lines in chosen.items():
                path = os.path.join(a.out, name + ".tsv")
                write_text(path, lines)
                print(f"{path}: {len(lines)} pairs")
        else:
            lines = libreoffice_pairs(a.en_deb, a.pt_deb, warn)
            write_text(a.out, lines)
            print(f"{a.out}: {len(lines)} pairs")
    except PrepError as e:
        print(f"prepare-data.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
