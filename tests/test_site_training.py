"""Site models: learnt from the verified photos in the database, stored under the var dir with a
version, used by the engine once active, shown by `train --status`, rolled back to the shipped
model; nothing written into the repository."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.cli_train import refusals
from core.context import AppContext
from core.db import transaction
from core.models import InboundMessage, Photo, Reading, ReviewTask
from core.settings import Settings, load_settings
from matching.verified_photos import verified_photos
from ocr import default_engine, read_meter, site_model
from ocr.digits import Head
from ocr.reader import OcrEngine
from ocr.site_training import (
    Figures,
    Verified,
    digit_models,
    fit_head,
    read_all,
    sample,
    site_engine,
)
from ocr.trust import KNOT_CONFIDENCE
from tests.samples import meter_photo, seed_meter

REPO = Path(__file__).resolve().parents[1]
READ_ON = dt.date(2026, 11, 1)


class Seeder:
    """Mails with one photo each for one water meter (5 digits), booked or decided as told."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        with transaction(ctx.sessions) as session:
            self.meter_id = seed_meter(session, email="a@example.org", account="K1", meter="W1")
        self.count = 0

    def _photo(self, session: object, value: int) -> tuple[InboundMessage, Photo]:
        self.count += 1
        data = meter_photo(f"{value:05d}", "37", seed=self.count)
        message = InboundMessage(
            mailbox="maildir", source_key=f"maildir:{self.count}", sha256=f"{self.count:064x}",
            status="accepted",
        )  # fmt: skip
        session.add(message)  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        photo = Photo(
            message_id=message.id, sha256=self.ctx.blobs.put(data), content_type="image/jpeg",
            size=len(data),
        )  # fmt: skip
        session.add(photo)  # type: ignore[attr-defined]
        session.flush()  # type: ignore[attr-defined]
        return message, photo

    def auto(self, value: int, *, status: str = "accepted") -> int:
        with transaction(self.ctx.sessions) as session:
            message, photo = self._photo(session, value)
            session.add(
                Reading(
                    meter_id=self.meter_id, value=Decimal(value) + Decimal("0.37"),
                    read_on=READ_ON, source="photo", status=status, accepted_by="auto",
                    inbound_message_id=message.id, photo_id=photo.id,
                )
            )  # fmt: skip
            return photo.id

    def decided(
        self, shown: int, decided: int | None, decision: str, reasons: tuple[str, ...] = ()
    ) -> int:
        with transaction(self.ctx.sessions) as session:
            message, photo = self._photo(session, shown)
            session.add(
                ReviewTask(
                    inbound_message_id=message.id, photo_id=photo.id, meter_id=self.meter_id,
                    status="done", decision=decision, reason_codes=list(reasons),
                    decided_value=None if decided is None else Decimal(decided),
                    decided_by="clerk",
                )
            )  # fmt: skip
            return photo.id


def _repo_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_the_verified_photos_are_clerk_decisions_and_unchanged_auto_bookings(
    ctx: AppContext,
) -> None:
    seed = Seeder(ctx)
    booked = seed.auto(4711)
    seed.auto(815, status="superseded")  # a clerk corrected it later
    accepted = seed.decided(2024, 2024, "accepted")
    corrected = seed.decided(3900, 3901, "corrected")
    seed.decided(1234, None, "rejected")
    seed.decided(5555, 5555, "accepted", ("photo_reused",))
    with transaction(ctx.sessions) as session:
        found = verified_photos(session)
    assert [(p.photo_id, p.value, p.by) for p in found] == [
        (booked, 4711, "auto"),
        (accepted, 2024, "clerk"),
        (corrected, 3901, "clerk"),
    ]
    assert {(p.integer_digits, p.display) for p in found} == {(5, "drum")}


def test_train_stores_a_versioned_site_model_the_engine_uses_and_rolls_back(
    ctx: AppContext,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = Seeder(ctx)
    for value in (1203, 45678, 890, 23456, 777, 31415):
        seed.auto(value)
    for value in (2718, 16180, 9021):
        seed.decided(value, value, "accepted")
    seed.decided(4445, 4445, "corrected")  # the photo was misread
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("METER_INTAKE_DATABASE_URL", settings.effective_database_url)
    before = _repo_status()
    root = settings.site_model_dir

    assert main(["train", "--min-photos", "20", "--quiet"]) == 2  # too few
    assert "Zu wenige bestätigte Fotos zum Lernen: 10 (mindestens 20)" in capsys.readouterr().err
    assert site_model.versions(root) == []

    code = main(["train", "--min-photos", "10", "--held-out-every", "3", "--quiet"])
    out = capsys.readouterr().out
    assert "Bestätigte Fotos: 10; gelernt aus 6" in out
    assert "Prüffotos (nicht gelernt): 4" in out
    assert site_model.versions(root) == ["site-0001"]
    manifest = site_model.manifest(root, "site-0001")
    assert manifest["photos"] == 10 and manifest["training_photos"] == 6
    assert manifest["labelled_cells"] == 5 * manifest["aligned_photos"] > 0
    held = {k: Figures.from_json(v) for k, v in manifest["held_out"].items()}
    assert held["shipped"].photos == held["site"].photos == 4
    refused = refusals(held["site"], held["shipped"])
    assert code == (1 if refused else 0)
    if refused:  # the rule kept the shipped model: make it active by hand
        assert f"nicht aktiviert: site-0001 {'; '.join(refused)}" in out
        assert main(["train", "--activate", "site-0001"]) == 0

    assert main(["train", "--status"]) == 0
    status = capsys.readouterr().out
    assert status.startswith(f"Aktiv: site-0001 ({root})")
    assert "* site-0001" in status and "Standortmodell" in status
    assert ("Prüfung nicht bestanden" if refused else "Prüfung bestanden") in status
    engine = default_engine(settings)
    assert engine.site is not None and engine.site.version == "site-0001"
    assert engine.site.manifest["photos"] == 10
    shipped = OcrEngine(settings)
    for name, model in digit_models(engine).items():
        assert model.head is not None
        assert not np.array_equal(
            model.head.weights, digit_models(shipped)[name].shipped_head.weights
        )

    assert main(["train", "--rollback"]) == 0
    assert site_model.active_version(root) is None
    assert default_engine(settings).site is None
    capsys.readouterr()
    assert main(["train", "--status"]) == 0
    status = capsys.readouterr().out
    assert status.startswith(f"Aktiv: ausgeliefertes Modell ({root})")
    assert "  site-0001" in status
    assert site_model.versions(root) == ["site-0001"]  # kept for --activate
    assert _repo_status() == before


def _swapped(head: Head, a: int, b: int) -> Head:
    order = list(range(len(head.bias)))
    order[a], order[b] = b, a
    return Head(head.weights[order], head.bias[order])


def test_the_engine_reads_with_the_active_site_heads(tmp_path: Path) -> None:
    settings = load_settings(var_dir=tmp_path / "var", _env_file=None)
    photo = meter_photo("31415", "37", seed=6)
    assert read_meter(photo, integer_digits=5, settings=settings).reading == "31415"
    models = digit_models(default_engine(settings))
    heads = {name: _swapped(m.shipped_head, 1, 4) for name, m in models.items()}
    version = site_model.save(settings.site_model_dir, heads, {"photos": 0})
    site_model.activate(settings.site_model_dir, version)
    swapped = read_meter(photo, integer_digits=5, settings=settings)
    assert swapped.reading != "31415"  # heads that read every 1 as a 4 and back
    assert default_engine(settings).site is not None
    site_model.activate(settings.site_model_dir, None)
    assert read_meter(photo, integer_digits=5, settings=settings).reading == "31415"


def test_a_broken_site_model_falls_back_to_the_shipped_one(tmp_path: Path) -> None:
    settings = load_settings(var_dir=tmp_path / "var", _env_file=None)
    models = digit_models(default_engine(settings))
    heads = {name: m.shipped_head for name, m in models.items()}
    version = site_model.save(settings.site_model_dir, heads, {"photos": 0})
    (settings.site_model_dir / version / "heads.npz").write_bytes(b"broken")
    site_model.activate(settings.site_model_dir, version)
    assert default_engine(settings).site is None


def test_the_shipped_head_through_the_penultimate_layer_gives_the_nets_output() -> None:
    engine = OcrEngine(load_settings(_env_file=None))
    rng = np.random.default_rng(1)
    cells = [rng.integers(0, 255, (44, 27)).astype(np.uint8) for _ in range(12)]
    for model in digit_models(engine).values():
        own = model.predict(cells)
        with_head = type(model)(model.path, head=model.shipped_head).predict(cells)
        assert np.abs(own - with_head).max() < 1e-5


def test_a_fitted_head_learns_the_labels_and_keeps_the_other_cells_as_shipped() -> None:
    rng = np.random.default_rng(2)
    bias = rng.normal(size=11)
    bias[3] = -5.0  # the shipped head never reads a 3
    shipped = Head(rng.normal(size=(11, 16)), bias)
    x = np.abs(rng.normal(size=(400, 16)))
    x[:200, 0] += 3.0  # the site's digits look alike, and unlike the other cells
    x[200:, 0] = 0.0
    labels = np.full(400, -1)
    labels[:200] = 3  # the site's cells are all 3s, whatever the shipped head says
    site = fit_head(x, labels, shipped, pull=0.05)
    before, after = shipped.logits(x).argmax(axis=1), site.logits(x).argmax(axis=1)
    assert (after[:200] == 3).mean() > 0.9 > 0.1 > (before[:200] == 3).mean()
    assert (after[200:] == before[200:]).mean() > 0.9


def test_fine_tuning_fixes_a_systematic_confusion_on_photos_it_did_not_see(
    tmp_path: Path,
) -> None:
    """A deployment whose model reads every 1 as a 4 and back: heads fitted on its verified
    photos read held-out photos of other readings right."""
    settings = load_settings(var_dir=tmp_path / "var", _env_file=None)
    models = digit_models(OcrEngine(settings))
    confused = {name: _swapped(m.shipped_head, 1, 4) for name, m in models.items()}
    deployed = site_engine(settings, confused)
    training = [20815, 30716, 51203, 60231, 72019, 81506, 13579, 90817]
    held_out = [21035, 50712, 31806, 70219]

    def photo(value: int, seed: int) -> Verified:
        return Verified(meter_photo(f"{value:05d}", "37", seed=seed), 5, "drum", value)

    samples = [sample(deployed, photo(v, seed=20 + i)) for i, v in enumerate(training)]
    assert sum(s.labelled for s in samples) >= 5 * 6  # the photos' cells are labelled
    labels = np.concatenate([s.labels for s in samples])
    heads = {
        name: fit_head(np.vstack([s.features[name] for s in samples]), labels, confused[name])
        for name in models
    }
    tested = [photo(v, seed=40 + i) for i, v in enumerate(held_out)]
    before = Figures.of(read_all(deployed, tested, _each, ""), tested)
    after = Figures.of(read_all(site_engine(settings, heads), tested, _each, ""), tested)
    assert before.exact == 0
    assert after.exact >= 3
    assert after.shortfalls(before) == ()


def _each(photos: Iterable[Verified], what: str, total: int) -> Iterable[Verified]:
    return photos


def test_a_site_read_is_accepted_only_where_the_shipped_models_accept_the_same(
    tmp_path: Path,
) -> None:
    """Heads that read every 1 as a 4 and back are as sure of their misreads as the shipped
    heads of the right reads: only the shipped models' acceptance keeps them from booking."""
    settings = load_settings(var_dir=tmp_path / "var", _env_file=None)
    shipped = OcrEngine(settings)
    models = digit_models(shipped)
    swapped = site_engine(settings, {n: _swapped(m.shipped_head, 1, 4) for n, m in models.items()})
    same = site_engine(settings, {n: m.shipped_head for n, m in models.items()})
    for seed, value in ((6, "31415"), (8, "20815")):
        photo = meter_photo(value, "37", seed=seed)
        right = shipped.read(photo, integer_digits=5, display="drum", meter_number=False)
        assert right.reading == value and right.accepted
        misread = swapped.read(photo, integer_digits=5, display="drum", meter_number=False)
        assert misread.reading != value and not misread.accepted
        # no surer than the shipped read of another value is wrong: no history books it unseen
        assert misread.confidence <= 1 - right.confidence < 1 - KNOT_CONFIDENCE
        assert misread.reason is not None
        assert misread.reason.startswith("low_confidence_digit_")
        (agreed,) = same.read_hypotheses(photo, [(5, "drum")], meter_number=False)
        assert (agreed.reading, agreed.accepted) == (value, True)
        assert agreed.confidence == right.confidence


def test_the_switch_rule_refuses_acceptance_below_the_shipped_models_or_the_target() -> None:
    shipped = Figures(100, 85, 60, 60)
    assert Figures(100, 88, 60, 60).shortfalls(shipped) == ()
    assert Figures(100, 84, 61, 61).shortfalls(shipped) == ("exact",)
    assert Figures(100, 88, 59, 59).shortfalls(shipped) == ("accepted_exact",)
    # one wrong read among 70 accepted: 98.6 %, below the shipped model's and below 99.5 %
    assert Figures(100, 88, 70, 69).shortfalls(shipped) == ("precision", "target")
    # the shipped model lets one wrong read through as well: still below 99.5 %
    assert Figures(100, 88, 70, 69).shortfalls(Figures(100, 85, 60, 59)) == ("target",)
    assert refusals(Figures(100, 88, 70, 69), shipped) == [
        "angenommene Stände seltener richtig (98.6% statt 100.0% beim ausgelieferten Modell)",
        "angenommene Stände nur zu 98.6% richtig (mindestens 99.5%)",
    ]


def test_train_status_says_which_stored_model_fails_the_switch_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_settings(var_dir=tmp_path / "var", _env_file=None)
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(settings.var_dir))
    heads = {n: m.shipped_head for n, m in digit_models(OcrEngine(settings)).items()}
    root = settings.site_model_dir
    for site in (Figures(90, 80, 66, 65), Figures(90, 80, 62, 62)):
        held = {"shipped": Figures(90, 79, 62, 62).as_json(), "site": site.as_json()}
        site_model.save(root, heads, {"photos": 450, "labelled_cells": 1700, "held_out": held})
    site_model.activate(root, "site-0001")  # by hand, as --force or --activate may
    assert main(["train", "--status"]) == 0
    status = capsys.readouterr().out
    newer, active = status.split("* site-0001")  # newest first
    assert "Prüfung nicht bestanden: angenommene Stände seltener richtig (98.5% statt " in active
    assert "nur zu 98.5% richtig (mindestens 99.5%)" in active
    assert "site-0002" in newer and "Prüfung bestanden" in newer
