import pytest

from samplesort.taxonomy import GROUP_OF, LABELS, group_of, label_for_name, tokens


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("BD_01", "kick"),
        ("bassdrum01", "kick"),
        ("Bass Drum 2", "kick"),
        ("Kick Hard", "kick"),
        ("c3 - bass drum 1", "kick"),
        ("SD 3", "snare"),
        ("snr_tight", "snare"),
        ("Snare Jazz", "snare"),
        ("Hand Clap", "clap"),
        ("Finger Snaps", "clap"),
        ("Snare Rimshot", "rim"),
        ("Stick", "rim"),
        ("sidestick01", "rim"),
        ("XStick", "rim"),
        ("Closed HH", "hihat_closed"),
        ("chh_03", "hihat_closed"),
        ("Pedal HH", "hihat_closed"),
        ("hihat_foot_pedal01", "hihat_closed"),
        ("Hat_c", "hihat_closed"),
        ("Hi-Hat Open", "hihat_open"),
        ("ohh long", "hihat_open"),
        ("hihat_opened01", "hihat_open"),
        ("Floor Tom", "tom"),
        ("tom_hi01", "tom"),
        ("Crash Left", "crash"),
        ("Splash", "crash"),
        ("China 18", "crash"),
        ("crash16inch", "crash"),
        ("Ride Jazz", "ride"),
        ("Ride Bell", "ride"),
        ("ride-cup", "ride"),
        ("Cowbell", "percussion"),
        ("Tambourine Pedal", "percussion"),
        ("shaker02", "percussion"),
        ("Conga 1", "percussion"),
        ("Djembe1 Bass", "percussion"),
        ("Woodblock Hi", "percussion"),
        ("bass_acid01", "other"),
        ("string pad", "other"),
    ],
)
def test_synonyms_map_to_labels(name: str, label: str) -> None:
    assert label_for_name(name) == label


@pytest.mark.parametrize(
    "name",
    [
        "Hi-Hat Semiopen",
        "semi-open hat",
        "Cymbal",
        "FX",
        "Crash/Ride 18",
        "Snare Roll",
        "Drum 1",
        "",
        "12",
        "hat ring",
        "zap01",
    ],
)
def test_ambiguous_names_map_to_nothing(name: str) -> None:
    assert label_for_name(name) is None


def test_tokens_split_camel_case_digits_and_punctuation() -> None:
    assert tokens("BassDrum_02-Hard") == ["bass", "drum", "hard"]


def test_every_label_has_a_group() -> None:
    assert set(GROUP_OF) == set(LABELS)
    assert group_of("clap") == "snare" and group_of("ride") == "cymbal"
    assert group_of("unknown") == "unknown"
