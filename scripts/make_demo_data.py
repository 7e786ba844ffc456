"""Regenerate kallimachos/demo/*.{xml,mrc} from ../shared/data (run once; output committed).

The demo consortium uses real records written by other projects (GPL; see
kallimachos/demo/PROVENANCE.md), spread across the four members so that holdings overlap:

* UOC  — Koha sample records 0-149 + 289, 298, 324; Koha branches MPL/CPL/FPL become
         UOC-HER/UOC-RET/UOC-HER (952 $a/$b rewritten; nothing else changed).
* AEG  — Koha sample records 100-259 (overlapping UOC's 100-149); branches spread over the
         six island branches by item number.
* TUC  — Evergreen jazz_1k.mrc records 0-119 + 188, 376, 854, 896 (raw MARC-8 bytes).
* CUT  — jazz_1k.mrc records 60-179 (overlapping TUC) + every camel.usmarc record (CIP
         versions of Koha #10 and #12) + traject louis_armstrong.marc (must not merge with
         jazz #376).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pymarc

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "bib"
OUT = REPO / "kallimachos" / "demo"
AEG_BRANCHES = ["AEG-MYT", "AEG-CHI", "AEG-SAM", "AEG-RHO", "AEG-SYR", "AEG-LEM"]


def raw_records(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [chunk + b"\x1d" for chunk in data.split(b"\x1d") if chunk.strip()]


def koha_subset(
    indices: list[int], branch_for: dict[str, str] | None, spread: list[str] | None
) -> bytes:
    records = pymarc.parse_xml_to_array(
        str(SHARED / "koha-misc4dev" / "DERIVED_koha_sample_biblios_with_952.marcxml")
    )
    out = io.BytesIO()
    writer = pymarc.XMLWriter(out)
    for index in indices:
        record = records[index]
        for n, field in enumerate(record.get_fields("952")):
            for code in ("a", "b"):
                value = field.get(code)
                if value is None:
                    continue
                new = branch_for[value] if branch_for else spread[(index + n) % len(spread)]  # type: ignore[index]
                field[code] = new
        writer.write(record)
    writer.close(close_fh=False)
    return out.getvalue()


def main() -> int:
    if not SHARED.is_dir():
        print("needs ../shared/data/bib beside the repository", file=sys.stderr)
        return 1
    uoc = [*range(150), 289, 298, 324]
    (OUT / "UOC.marcxml").write_bytes(
        koha_subset(uoc, {"MPL": "UOC-HER", "CPL": "UOC-RET", "FPL": "UOC-HER"}, None)
    )
    (OUT / "AEG.marcxml").write_bytes(koha_subset(list(range(100, 260)), None, AEG_BRANCHES))
    jazz = raw_records(SHARED / "evergreen" / "jazz_1k.mrc")
    tuc = [*range(120), 188, 376, 854, 896]
    (OUT / "TUC.mrc").write_bytes(b"".join(jazz[i] for i in tuc))
    cut = [jazz[i] for i in range(60, 180)]
    cut += raw_records(SHARED / "marc-perl" / "camel.usmarc")
    cut += raw_records(SHARED / "traject" / "louis_armstrong.marc")
    (OUT / "CUT.mrc").write_bytes(b"".join(cut))
    for name in ("UOC.marcxml", "AEG.marcxml", "TUC.mrc", "CUT.mrc"):
        print(name, (OUT / name).stat().st_size, "bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
