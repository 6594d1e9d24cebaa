"""`meter-intake train`: a site model from the deployment's verified photos, its status, and the
way back to the shipped model. Declared and run like the commands in `app.cli`.

    meter-intake train                 fit, report the held-out photos, switch when they pass
    meter-intake train --force         switch even when the held-out photos do not pass
    meter-intake train --status        the active model and each stored one's held-out figures
    meter-intake train --rollback      back to the shipped model
    meter-intake train --activate V    switch to a stored version
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from app.context import migrated_context
from core.errors import UsageError
from core.settings import Settings
from core.threads import limit_threads

if TYPE_CHECKING:
    from core.context import AppContext
    from ocr.site_training import Figures, Trained, Verified

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

T = TypeVar("T")
MIN_PHOTOS = 50  # fewer held-out photos than a tenth of this say nothing about a change


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    limit_threads(settings.ocr_threads)  # before the OCR loads OpenCV and BLAS, as the worker
    from ocr import site_model

    root = settings.site_model_dir
    if args.status:
        print(status_text(settings))
        return 0
    if args.rollback:
        site_model.activate(root, None)
        print("Aktiv: ausgeliefertes Modell (Standortmodelle bleiben gespeichert).")
        return 0
    if args.activate:
        try:
            site_model.activate(root, args.activate)
        except ValueError as exc:
            raise UsageError(f"Kein Standortmodell {args.activate!r} in {root}") from exc
        print(f"Aktiv: {args.activate}.")
        return 0
    return _train(migrated_context(settings), args)


def _train(ctx: AppContext, args: argparse.Namespace) -> int:
    from ocr import site_model
    from ocr.site_training import train

    photos = verified(ctx)
    if len(photos) < args.min_photos:
        raise UsageError(
            f"Zu wenige bestätigte Fotos zum Lernen: {len(photos)} (mindestens {args.min_photos})"
        )
    progress = _quiet if args.quiet else _bar
    trained = train(ctx.settings, photos, held_out_every=args.held_out_every, progress=progress)
    print(report_text(trained))
    root = ctx.settings.site_model_dir
    version = site_model.save(root, trained.heads, trained.manifest())
    refused = refusals(trained.site, trained.shipped)
    if not refused or args.force:
        site_model.activate(root, version)
        print(f"Gespeichert und aktiv: {version} ({root / version}).")
        return 0
    print(
        f"Gespeichert, nicht aktiviert: {version} {'; '.join(refused)} "
        f"(mit --force trotzdem aktivieren)."
    )
    return 1


def refusals(site: Figures, shipped: Figures) -> list[str]:
    """Why a site model with these held-out figures does not replace the shipped model, one
    clause per `Figures.shortfalls` (empty: it does)."""
    from ocr.site_training import TARGET_PRECISION

    clauses = {
        "exact": f"liest weniger Prüffotos genau ({site.exact} statt {shipped.exact})",
        "accepted_exact": (
            f"nimmt weniger richtige Stände an ({site.accepted_exact} statt "
            f"{shipped.accepted_exact})"
        ),
        "precision": (
            f"angenommene Stände seltener richtig ({site.precision:.1%} statt "
            f"{shipped.precision:.1%} beim ausgelieferten Modell)"
        ),
        "target": (
            f"angenommene Stände nur zu {site.precision:.1%} richtig (mindestens "
            f"{TARGET_PRECISION:.1%})"
        ),
    }
    return [clauses[name] for name in site.shortfalls(shipped)]


def verified(ctx: AppContext) -> list[Verified]:
    """The verified photos whose blob is still stored, as the training reads them."""
    from core.db import transaction
    from matching.verified_photos import verified_photos
    from ocr.site_training import Verified

    with transaction(ctx.sessions) as session:
        found = verified_photos(session)
    return [
        Verified(ctx.blobs.get(p.sha256), p.integer_digits, p.display, p.value)
        for p in found
        if ctx.blobs.exists(p.sha256)
    ]


def report_text(trained: Trained) -> str:
    lines = [
        f"Bestätigte Fotos: {trained.photos}; gelernt aus {trained.training_photos} "
        f"({trained.aligned_photos} mit zuordenbaren Ziffern, {trained.cells} Ziffern).",
        "Automatisch angenommen wird ein Stand nur, wo das ausgelieferte Modell denselben "
        "Stand annimmt.",
        f"Prüffotos (nicht gelernt): {trained.shipped.photos}",
        *figures_table({"ausgeliefert": trained.shipped, "Standortmodell": trained.site}),
    ]
    return "\n".join(lines)


def figures_table(rows: dict[str, Any]) -> list[str]:
    out = [f"  {'Modell':<16}{'genau':>12}{'angenommen':>12}{'davon richtig':>16}"]
    for name, f in rows.items():
        out.append(
            f"  {name:<16}{f'{f.exact}/{f.photos}':>12}{f.accepted:>12}{f'{f.precision:.1%}':>16}"
        )
    return out


def status_text(settings: Settings) -> str:
    from ocr import site_model
    from ocr.site_training import Figures

    root = settings.site_model_dir
    active = site_model.active_version(root)
    lines = [f"Aktiv: {active or 'ausgeliefertes Modell'} ({root})"]
    for version in reversed(site_model.versions(root)):
        m = site_model.manifest(root, version)
        held = m["held_out"]
        mark = "*" if version == active else " "
        lines.append(
            f"{mark} {version}  {m['created']}  {m['photos']} Fotos, "
            f"{m['labelled_cells']} Ziffern gelernt; Prüffotos:"
        )
        shipped, site = (Figures.from_json(held[k]) for k in ("shipped", "site"))
        lines += figures_table({"ausgeliefert": shipped, "Standortmodell": site})
        refused = refusals(site, shipped)
        lines.append(
            f"  Prüfung nicht bestanden: {'; '.join(refused)}" if refused else "  Prüfung bestanden"
        )
    return "\n".join(lines)


def _bar(items: Iterable[T], what: str, total: int) -> Iterable[T]:
    from tqdm import tqdm

    return tqdm(items, desc=what, total=total, unit="Foto")


def _quiet(items: Iterable[T], what: str, total: int) -> Iterable[T]:
    return items


def add_train(commands: Commands) -> None:
    train = commands.add_parser(
        "train", help="Standortmodell aus bestätigten Fotos lernen (Ziffernmodell)"
    )
    what = train.add_mutually_exclusive_group()
    what.add_argument("--status", action="store_true", help="aktives Modell und Prüfwerte zeigen")
    what.add_argument("--rollback", action="store_true", help="zurück zum ausgelieferten Modell")
    what.add_argument("--activate", metavar="VERSION", help="ein gespeichertes Modell aktivieren")
    train.add_argument(
        "--force",
        action="store_true",
        help="auch aktivieren, wenn das Modell die Prüfung nicht besteht",
    )
    train.add_argument(
        "--min-photos", type=int, default=MIN_PHOTOS, help="so viele bestätigte Fotos mindestens"
    )
    train.add_argument(
        "--held-out-every",
        type=int,
        default=5,
        metavar="K",
        help="jedes K-te Foto (gemischt) wird nicht gelernt, nur geprüft",
    )
    train.add_argument("--quiet", action="store_true", help="kein Fortschrittsbalken")
    train.set_defaults(handler=cmd_train)
