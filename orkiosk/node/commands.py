"""`orkiosk node`: the planning station's DICOM node (a Storage SCP), and `orkiosk node status`.
pynetdicom is imported only when the node runs."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from pathlib import Path

from orkiosk.errors import OrkioskError

ARCHIVE_TTL_S = 10.0  # how long the archive's instance counts of a study are trusted


def register(sub) -> None:
    p = sub.add_parser(
        "node",
        help="receive studies from the archive (a DICOM Storage SCP); 'node status' lists them",
        description="A DICOM Storage SCP on the planning station: it accepts associations only "
        "from the --allow senders (AE title and address both checked) that call its --aet, and "
        "writes every instance durably into --inbox by study and series before answering. A "
        "series is complete once nothing arrived for --quiet-s seconds. "
        "'orkiosk node status --inbox DIR' prints the studies and series as JSON (no names).",
    )
    p.add_argument("action", nargs="?", choices=("serve", "status"), default="serve")
    p.add_argument("--inbox", type=Path, required=True, metavar="DIR")
    p.add_argument("--aet", default="ORKIOSK", help="this node's AE title (default ORKIOSK)")
    p.add_argument("--port", type=int, default=11112, help="port (default 11112; 0: any free)")
    p.add_argument("--bind", default="0.0.0.0", metavar="ADDR", help="address to listen on")
    p.add_argument(
        "--allow",
        default="",
        metavar="AET@HOST[,AET@HOST...]",
        help="the senders accepted (nobody by default)",
    )
    p.add_argument(
        "--quiet-s",
        type=float,
        default=None,
        metavar="S",
        help="a series is complete after this many seconds without a new instance (default 20)",
    )
    p.add_argument(
        "--pacs",
        metavar="AET@HOST:PORT",
        help="the archive: a series is complete only when it holds as many instances as this says",
    )
    p.add_argument(
        "--drafts",
        type=Path,
        metavar="DIR",
        help="where draft plans of complete series go (default: INBOX-drafts beside the inbox)",
    )
    p.add_argument(
        "--rules",
        type=Path,
        metavar="FILE.toml",
        help="which presets a series' draft is built with (default: CT skin+bone, MR skin)",
    )
    p.add_argument("--no-drafts", action="store_true", help="receive only, build no drafts")
    p.add_argument("--tls-cert", type=Path, metavar="PEM", help="DICOM TLS: this node's cert")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="DICOM TLS: its private key")
    p.add_argument("--tls-ca", type=Path, metavar="PEM", help="DICOM TLS: CA of the senders")
    p.set_defaults(func=run_node)

    p = sub.add_parser(
        "pacs",
        help="query the archive and retrieve a series from it (C-FIND/C-GET or DICOMweb)",
        description="'pacs find' lists the archive's series (JSON, no names) for a patient ID, "
        "an accession number, a study or a modality; 'pacs get' retrieves one series with "
        "C-GET into an inbox folder (by study and series, written durably), with progress.",
    )
    p.add_argument("action", choices=("find", "get"))
    p.add_argument("--pacs", metavar="AET@HOST:PORT", help="the archive, over DIMSE")
    p.add_argument("--dicomweb", metavar="URL", help="the archive, over DICOMweb (QIDO/WADO-RS)")
    p.add_argument(
        "--dicomweb-auth", type=Path, metavar="FILE", help="DICOMweb: user:password (mode 0600)"
    )
    p.add_argument("--aet", default="ORKIOSK", help="this node's AE title (default ORKIOSK)")
    p.add_argument("--patient", default="", metavar="ID", help="find: the patient ID")
    p.add_argument("--accession", default="", metavar="N", help="find: the accession number")
    p.add_argument("--modality", default="", help="find: CT, MR, ...")
    p.add_argument("--study", default="", metavar="UID", help="the study (get: found if absent)")
    p.add_argument("--series", metavar="UID", help="get: the series to retrieve")
    p.add_argument("--to", type=Path, metavar="DIR", help="get: the inbox folder")
    p.set_defaults(func=run_pacs)


def run_node(args) -> int:
    from orkiosk.node.inbox import DEFAULT_QUIET_S, Inbox

    quiet = DEFAULT_QUIET_S if args.quiet_s is None else args.quiet_s
    if quiet < 0:
        raise OrkioskError("--quiet-s must not be negative")
    inbox = Inbox(args.inbox)
    expected = _archive_counts(args) if args.pacs else None
    drafts_dir = args.drafts or args.inbox.with_name(args.inbox.name + "-drafts")
    if args.action == "status":
        rows = inbox.series(quiet, expected=expected)
        if drafts_dir.is_dir():
            from orkiosk.node.drafts import Drafts, load_rules

            drafts = Drafts(args.inbox, drafts_dir, load_rules(args.rules))
            for row in rows:
                row["draft"] = drafts.record(row["series"])
        print(json.dumps({"inbox": str(args.inbox), "series": rows}, indent=2))
        return 0
    return _serve(args, inbox, quiet, expected, drafts_dir)


def _archive_counts(args):
    """expected(study, series): the archive's instance count (C-FIND), None if unknown."""
    from orkiosk.node.pacs import PacsError, Peer, find_series

    peer = Peer.parse(args.pacs)
    asked: dict[str, tuple[float, dict]] = {}  # study -> (when, {series: count})

    def expected(study: str, series: str) -> int | None:
        when, counts = asked.get(study, (0.0, {}))
        if time.monotonic() - when > ARCHIVE_TTL_S:
            try:
                rows = find_series(peer, args.aet, study_uid=study)
            except PacsError as exc:
                logging.getLogger("orkiosk.node").warning("archive count unknown: %s", exc)
                return None
            counts = {r["series"]: r["instances"] for r in rows}
            asked[study] = (time.monotonic(), counts)
        return counts.get(series)

    return expected


def _serve(args, inbox, quiet: float, expected, drafts_dir: Path) -> int:
    from orkiosk.node.allow import AET_RE, parse_allow
    from orkiosk.node.scp import Node, Tls

    if not AET_RE.fullmatch(args.aet):
        raise OrkioskError(f"--aet {args.aet!r}: not a DICOM AE title (1-16 characters)")
    if not args.allow:
        raise OrkioskError("--allow is required: nobody may send to the node by default")
    tls_parts = (args.tls_cert, args.tls_key, args.tls_ca)
    if any(tls_parts) and not all(tls_parts):
        raise OrkioskError("DICOM TLS needs --tls-cert, --tls-key and --tls-ca together")
    senders = parse_allow(args.allow)
    inbox.check_writable()
    drafts = None
    if not args.no_drafts:
        from orkiosk.node.drafts import Drafts, load_rules

        drafts = Drafts(args.inbox, drafts_dir, load_rules(args.rules), log=_say)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    node = Node(args.aet, inbox, senders)
    tls = Tls(*tls_parts) if all(tls_parts) else None
    port = node.start(args.bind, args.port, tls)
    who = ", ".join(f"{s.aet}@{s.host}" for s in senders)
    print(
        f"node {args.aet} listening on {args.bind}:{port}{' (TLS)' if tls else ''}, "
        f"inbox {args.inbox}, accepting {who}",
        flush=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    complete: dict[str, int] = {}
    try:
        while not done.wait(1.0):
            for s in inbox.series(quiet, expected=expected):
                key = f"{s['study']}/{s['series']}"
                if s["state"] == "complete" and complete.get(key) != s["instances"]:
                    complete[key] = s["instances"]
                    _say(
                        f"series {s['series']} complete: {s['instances']} instances "
                        f"({s['modality']} {s['description']})".rstrip()
                    )
                    if drafts is not None:
                        drafts.submit(s)
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
        if drafts is not None:
            drafts.close()
        print(
            f"node stopped: {node.stored} stored, {node.duplicates} duplicates, "
            f"{node.refused} associations refused",
            flush=True,
        )
    return 0


def run_pacs(args) -> int:
    import sys

    from orkiosk.node.inbox import Inbox
    from orkiosk.node.pacs import PacsError, Peer, find_series, get_series

    if bool(args.pacs) == bool(args.dicomweb):
        raise PacsError("name the archive once: --pacs AET@HOST:PORT or --dicomweb URL")
    if args.dicomweb:
        from orkiosk.node.dicomweb import find_series_web, get_series_web

        def find(**keys):
            return find_series_web(args.dicomweb, args.dicomweb_auth, **keys)

        def get(study, series, inbox, progress):
            return get_series_web(args.dicomweb, args.dicomweb_auth, study, series, inbox, progress)
    else:
        peer = Peer.parse(args.pacs)

        def find(**keys):
            return find_series(peer, args.aet, **keys)

        def get(study, series, inbox, progress):
            return get_series(peer, args.aet, study, series, inbox, progress)

    if args.action == "find":
        rows = find(
            patient_id=args.patient,
            accession=args.accession,
            modality=args.modality,
            study_uid=args.study,
        )
        print(json.dumps({"series": rows}, indent=2))
        return 0
    if not args.series or args.to is None:
        raise PacsError("pacs get needs --series UID and --to DIR")
    study = args.study
    if not study:
        found = [r for r in find() if r["series"] == args.series]
        if not found:
            raise PacsError(f"the archive has no series {args.series}")
        study = found[0]["study"]
    inbox = Inbox(args.to)
    inbox.check_writable()

    def progress(done: int, total: int) -> None:
        print(f"\rretrieving: {done}/{total} instances", end="", file=sys.stderr, flush=True)

    n = get(study, args.series, inbox, progress)
    print(file=sys.stderr)
    print(f"retrieved {n} instances of series {args.series} into {args.to}")
    return 0


def _say(line: str) -> None:
    print(line, flush=True)
