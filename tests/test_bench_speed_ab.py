from bench.speed_ab import Timed, same, summary


def timed(cpu: float, reading: str = "123", confidence: float = 0.9) -> Timed:
    return Timed(cpu, cpu * 3, (reading, "", "True", "[]"), confidence)


def test_summary_gives_both_medians_and_their_ratio() -> None:
    baseline = [timed(0.2), timed(0.3), timed(0.4)]
    candidate = [timed(0.1), timed(0.27), timed(0.4)]
    line = summary(baseline, candidate)
    assert "baseline 0.300" in line
    assert "this checkout 0.270" in line
    assert "ratio 0.900" in line
    assert "per photo: 0.900" in line


def test_reads_differ_on_the_reading_or_the_confidence_only_beyond_the_tolerance() -> None:
    assert same(timed(0.2), timed(0.5, confidence=0.9 + 1e-9))
    assert not same(timed(0.2), timed(0.2, confidence=0.91))
    assert not same(timed(0.2), timed(0.2, reading="124"))
