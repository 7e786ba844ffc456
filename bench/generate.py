"""Build a large, realistic consortium from the real records in ``../shared/data/bib``.

Every generated work is a *varied copy* of one real MARC21 record (the pool): a new control
number (001), a title with a deterministic word and number appended (245 $a), a new valid
ISBN-13 when the real record had ISBNs (020) and a new valid ISSN when it had ISSNs (022), and a
new year (008/07-10 and the years in 260/264 $c).  Everything else (authors, subjects, 880
vernacular titles, publishers, editions, leaders, MARC-8 records re-encoded as UTF-8) is the
real record's.  So the works are distinct, and their text, languages and material types are as
varied as the real records.

Each work is held by one to four of TUC, UOC, CUT and AEG (72 % one, 20 % two, 6 % three,
2 % four).  Every holding library gets its own copy of the record, with its own 952 items
(1-4 copies, spread over the library's branches, some in the reference collection, a few lost
or not for loan).  Half of the extra copies keep the first library's 001 (shared copy
cataloguing), half get the library's own; they cluster by ISBN/ISSN, by the shared record or by
title/author/year, as real union catalogues do.  Output is MARCXML, one file per library, except
UOC, whose records are split 1:10 into two files (the memory check imports both).

    .venv/bin/python bench/generate.py --works 200000 --out /tmp/kallimachos-bench/data

Deterministic: the same ``--works`` and ``--seed`` give byte-identical files.  ``manifest.json``
in the output directory lists the files with their library, default branch, records and items.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import random
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymarc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kallimachos.indexer.extract import ParsedRecord  # noqa: E402
from kallimachos.indexer.reader import iter_records  # noqa: E402

SHARED_BIB = ROOT.parent / "shared" / "data" / "bib"
POOL_VERSION = "1"
LIBRARIES = {  # code -> (branches, share of primary holdings, default branch for the import)
    "UOC": (("UOC-HER", "UOC-RET"), 0.35, "UOC-HER"),
    "AEG": (("AEG-MYT", "AEG-CHI", "AEG-SAM", "AEG-RHO", "AEG-SYR", "AEG-LEM"), 0.25, "AEG-MYT"),
    "TUC": (("TUC",), 0.20, None),
    "CUT": (("CUT",), 0.20, None),
}
HOLDERS = ((1, 0.72), (2, 0.20), (3, 0.06), (4, 0.02))
COPIES = ((1, 0.20), (2, 0.35), (3, 0.30), (4, 0.15))
WORDS = (
    "βιβλιοθήκη",
    "ιστορία",
    "θάλασσα",
    "Κρήτη",
    "φιλοσοφία",
    "Αιγαίο",
    "Κύπρος",
    "μουσική",
    "archive",
    "atlas",
    "chronicle",
    "companion",
    "studies",
    "readings",
    "essays",
    "lectures",
    "handbook",
    "anthology",
    "journal",
    "survey",
)
HOLDINGS_TAGS = {"852", "930", "949", "952", "995"}
SKIP_NAMES = re.compile(r"bad|invalid|error|cp866|1251|unimarc|mfhd|holdings|oversize", re.I)
SKIP_DIRS = {"medialab-reference_manager", "abes-marcxml2tei"}  # UNIMARC
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_YEAR = re.compile(r"(?<!\d)(1\d{3}|20\d{2})(?!\d)")
_TRAILING = re.compile(r"^(.*?)([\s/:;=,.]*)$", re.S)


def esc(value: str) -> str:
    value = _XML_ILLEGAL.sub("", value)
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fmt_esc(value: str) -> str:
    """Escaped for XML, then for ``str.format`` (the templates use ``{name}`` slots)."""
    return esc(value).replace("{", "{{").replace("}", "}}")


def isbn13(first12: str) -> str:
    total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(first12))
    return first12 + str((10 - total % 10) % 10)


def issn(first7: str) -> str:
    total = sum(int(d) * (8 - i) for i, d in enumerate(first7))
    check = (11 - total % 11) % 11
    return f"{first7[:4]}-{first7[4:]}{'X' if check == 10 else check}"


# --- the pool ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A real record as a ``str.format`` template with slots cn, ts, y, ids, holdings."""

    text: str
    has_isbn: bool
    has_issn: bool


def _source_files() -> list[Path]:
    files = []
    for path in sorted(SHARED_BIB.rglob("*")):
        if not path.is_file() or path.parts[len(SHARED_BIB.parts)] in SKIP_DIRS:
            continue
        if SKIP_NAMES.search(path.name):
            continue
        if path.suffix.lower() in {".mrc", ".marc", ".dat", ".usmarc", ".xml", ".marcxml"}:
            files.append(path)
    return files


def _pymarc_records(path: Path) -> Iterator[pymarc.Record]:
    if path.suffix.lower() in {".xml", ".marcxml"}:
        try:
            yield from pymarc.parse_xml_to_array(str(path))
        except Exception:
            return
        return
    with path.open("rb") as handle:
        reader = pymarc.MARCReader(
            handle, to_unicode=True, force_utf8=False, hide_utf8_warnings=True
        )
        while True:
            try:
                record = next(reader)
            except StopIteration:
                return
            except Exception:
                continue
            if record is not None:
                yield record


def _template(record: pymarc.Record) -> Template | None:
    leader = str(record.leader)
    leader = leader[:9] + "a" + leader[10:]  # the text is Unicode now, whatever it was
    if len(leader) != 24 or leader[6] not in "acdefgijkmoprt":
        return None
    titles = record.get_fields("245")
    if not titles or not titles[0].get_subfields("a") or record.get_fields("200"):
        return None
    parts = [
        f"<record><leader>{fmt_esc(leader)}</leader>",
        '<controlfield tag="001">{cn}</controlfield>',
    ]
    has_isbn = has_issn = ids_placed = False
    for fld in record.fields:
        tag = fld.tag
        if tag == "001" or tag in HOLDINGS_TAGS:
            continue
        if fld.is_control_field():
            data = fld.data or ""
            if tag == "008" and len(data) >= 11 and data[7:11].isdigit():
                parts.append(
                    f'<controlfield tag="008">{fmt_esc(data[:7])}{{y}}{fmt_esc(data[11:])}'
                    "</controlfield>"
                )
            else:
                parts.append(f'<controlfield tag="{esc(tag)}">{fmt_esc(data)}</controlfield>')
            continue
        if tag in ("020", "022"):
            has_isbn |= tag == "020" and bool(fld.get_subfields("a"))
            has_issn |= tag == "022" and bool(fld.get_subfields("a"))
            if not ids_placed:
                parts.append("{ids}")
                ids_placed = True
            continue
        ind1, ind2 = (fld.indicators or [" ", " "])[:2]
        subfields = []
        title_done = False
        for sub in fld.subfields:
            value = fmt_esc(sub.value or "")
            if tag == "245" and sub.code == "a" and not title_done:
                match = _TRAILING.match(value)
                assert match is not None
                value = f"{match.group(1)} {{ts}}{match.group(2)}"
                title_done = True
            elif tag in ("260", "264") and sub.code == "c":
                value = _YEAR.sub("{y}", value)
            subfields.append(f'<subfield code="{esc(sub.code)}">{value}</subfield>')
        parts.append(
            f'<datafield tag="{esc(tag)}" ind1="{esc(ind1 or " ")}" ind2="{esc(ind2 or " ")}">'
            + "".join(subfields)
            + "</datafield>"
        )
    if (has_isbn or has_issn) and not ids_placed:
        return None
    if not (has_isbn or has_issn) and ids_placed:
        parts = [p for p in parts if p != "{ids}"]
    parts.append("{holdings}</record>")
    return Template("".join(parts), has_isbn, has_issn)


def _render(t: Template, cn: str, ts: str, year: int, ident: int, holdings: str) -> str:
    ids = ""
    if t.has_isbn:
        ids += (
            '<datafield tag="020" ind1=" " ind2=" "><subfield code="a">'
            f"{isbn13(f'9798{ident:08d}')}</subfield></datafield>"
        )
    if t.has_issn:
        ids += (
            '<datafield tag="022" ind1=" " ind2=" "><subfield code="a">'
            f"{issn(f'{ident % 10_000_000:07d}')}</subfield></datafield>"
        )
    return t.text.format(cn=esc(cn), ts=esc(ts), y=year, ids=ids, holdings=holdings)


HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<collection xmlns="http://www.loc.gov/MARC21/slim">\n'
)
FOOTER = "</collection>\n"


def build_pool(cache_dir: Path) -> list[Template]:
    """Templates of every real MARC21 record our reader imports cleanly (cached)."""
    cache = cache_dir / f"pool-v{POOL_VERSION}.json"
    if cache.is_file():
        return [Template(**t) for t in json.loads(cache.read_text())]
    candidates = []
    quiet = io.StringIO()  # pymarc prints MARC-8 decoding complaints
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        records = [r for path in _source_files() for r in _pymarc_records(path)]
    for record in records:
        try:
            template = _template(record)
        except Exception:  # an odd field structure: not part of the pool
            template = None
        if template is not None:
            candidates.append(template)
    # Keep those our reader reads as MARC21 with a title, in a variant with holdings.
    probe = cache_dir / "pool-probe.marcxml"
    with probe.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        for i, t in enumerate(candidates):
            out.write(_render(t, f"PROBE{i}", "probe", 1999, i, _holdings("UOC", i, 1, 0)) + "\n")
        out.write(FOOTER)
    good: set[int] = set()
    for entry in iter_records(probe, "auto"):
        if (
            isinstance(entry, ParsedRecord)
            and entry.source_format == "marc21"
            and entry.title
            and entry.holdings
        ):
            good.add(entry.position)
    probe.unlink()
    seen: set[str] = set()
    pool = []
    for i, t in enumerate(candidates):
        digest = hashlib.sha1(t.text.encode()).hexdigest()
        if i in good and digest not in seen:
            seen.add(digest)
            pool.append(t)
    cache.write_text(json.dumps([t.__dict__ for t in pool]))
    return pool


# --- the consortium ---------------------------------------------------------------------------


def _holdings(library: str, work: int, copies: int, salt: int) -> str:
    branches = LIBRARIES[library][0]
    fields = []
    for j in range(copies):
        branch = branches[(work + j) % len(branches)]
        roll = (work * 31 + j * 7 + salt) % 100
        subs = [
            ("a", branch),
            ("b", branch),
            ("o", f"{'QA' if work % 2 else 'PA'}{work % 997}.{j + 1}"),
            ("p", f"{library[0]}{work:08d}{j}"),
            ("y", "BK"),
        ]
        if roll < 4:
            subs.append(("8", "REF"))
        elif roll == 97:
            subs.append(("1", "1"))  # lost
        elif roll >= 98:
            subs.append(("7", "1"))  # not for loan
        fields.append(
            '<datafield tag="952" ind1=" " ind2=" ">'
            + "".join(f'<subfield code="{c}">{esc(v)}</subfield>' for c, v in subs)
            + "</datafield>"
        )
    return "".join(fields)


def _pick(rng: random.Random, table: tuple[tuple[int, float], ...]) -> int:
    roll = rng.random()
    for value, share in table:
        if roll < share:
            return value
        roll -= share
    return table[-1][0]


def generate(out: Path, works: int, seed: int = 7) -> dict[str, object]:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    pool = build_pool(out)
    rng = random.Random(seed)
    codes = list(LIBRARIES)
    weights = [LIBRARIES[c][1] for c in codes]
    per_library: dict[str, list[str]] = {c: [] for c in codes}
    items = dict.fromkeys(codes, 0)
    for w in range(works):
        t = pool[w % len(pool)]
        variant = w // len(pool)
        ts = f"{WORDS[(w * 7 + variant) % len(WORDS)]} {variant + 1}"
        year = 1900 + (w * 37) % 125
        holders = [rng.choices(codes, weights)[0]]
        for _ in range(_pick(rng, HOLDERS) - 1):
            rest = [c for c in codes if c not in holders]
            holders.append(rng.choices(rest, [LIBRARIES[c][1] for c in rest])[0])
        for h, library in enumerate(holders):
            copies = _pick(rng, COPIES)
            cn = f"KB{w:08d}" if h == 0 or rng.random() < 0.5 else f"{library}{w:08d}"
            per_library[library].append(
                _render(t, cn, ts, year, w, _holdings(library, w, copies, h)) + "\n"
            )
            items[library] += copies
    files = []
    for library, records in per_library.items():
        branch = LIBRARIES[library][2]
        if library == "UOC":
            cut = len(records) // 11
            parts = [("UOC-part1", records[:cut]), ("UOC-part2", records[cut:])]
        else:
            parts = [(library, records)]
        for name, chunk in parts:
            path = out / f"{name}.marcxml"
            with path.open("w", encoding="utf-8") as handle:
                handle.write(HEADER)
                handle.writelines(chunk)
                handle.write(FOOTER)
            files.append(
                {
                    "path": str(path),
                    "library": library,
                    "branch": branch,
                    "records": len(chunk),
                    "items": sum(r.count('tag="952"') for r in chunk),
                    "bytes": path.stat().st_size,
                }
            )
    manifest: dict[str, object] = {
        "works_planned": works,
        "seed": seed,
        "pool": len(pool),
        "records": sum(len(r) for r in per_library.values()),
        "items": sum(items.values()),
        "files": files,
        "seconds": round(time.perf_counter() - started, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return manifest


# --- patrons (scenarios 3 and 4) ---------------------------------------------------------------

PATRON_CATEGORIES = {  # categories with room for many loans, and allowed interlibrary loan
    "UOC": ("faculty", "faculty", "postgraduate"),
    "AEG": ("faculty", "faculty", "postgraduate"),
    "TUC": ("faculty", "research_staff", "postgraduate"),
    "CUT": ("academic_staff", "doctoral", "postgraduate"),
}
PATRON_NAMES = (
    ("Maria", "Papadopoulou"),
    ("Giorgos", "Christodoulou"),
    ("Eleni", "Charalambous"),
    ("Nikos", "Ioannou"),
    ("Katerina", "Georgiou"),
    ("Andreas", "Nikolaou"),
    ("Sofia", "Konstantinou"),
    ("Dimitris", "Pappas"),
)


def patron_card(library: str, n: int) -> str:
    return f"{library}-BENCH-{n:05d}"


def generate_patrons(out: Path, per_library: int) -> Path:
    """``patrons.csv`` for ``kallimachos import patrons``: ``per_library`` readers of each
    library, spread over its branches, in categories that may borrow many copies and request
    interlibrary loans (so that loan limits do not refuse most benchmark requests)."""
    path = out / f"patrons-{per_library}.csv"
    lines = ["card_number,name,email,library,home_branch,category,expires_on,fee_paid_until"]
    for library, (branches, _share, _default) in LIBRARIES.items():
        categories = PATRON_CATEGORIES[library]
        for n in range(per_library):
            first, last = PATRON_NAMES[n % len(PATRON_NAMES)]
            card = patron_card(library, n)
            lines.append(
                f"{card},{first} {last} {n},{card.lower()}@bench.invalid,{library},"
                f"{branches[n % len(branches)]},{categories[n % len(categories)]},2031-08-31,"
            )
    out.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--works", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("/tmp/kallimachos-bench/data"))
    args = parser.parse_args()
    manifest = generate(args.out, args.works, args.seed)
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}))
    for f in manifest["files"]:  # type: ignore[attr-defined]
        print(f"  {f['path']}: {f['library']} {f['records']} records, {f['items']} items")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
