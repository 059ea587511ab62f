"""The ref grammar (``kind:component.component``) and ``slugify`` for user-supplied names."""

from __future__ import annotations

import pytest

from contexta import ValidationError
from contexta.contract import Ref, SampleObservation, make_ref, parse_ref, slugify

COMPONENT_RULE = "must be lowercase alphanumerics with single hyphens (at most 128 characters)"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Train Model_v2.1", "train-model-v2-1"),
        ("evaluate", "evaluate"),
        ("  --Hello__World--  ", "hello-world"),
        ("Café Crème", "cafe-creme"),
        ("ÅNGSTRÖM naïve", "angstrom-naive"),
        ("Ñandú 2024", "nandu-2024"),
        ("data/raw\\2024-01.csv", "data-raw-2024-01-csv"),
        ("ﬁne-tune", "fine-tune"),
        ("x" * 128, "x" * 128),
    ],
)
def test_slugify_folds_unicode_lowercases_and_hyphenates(name: str, slug: str) -> None:
    """slugify folds to ASCII, lowercases and turns each run of other characters into one hyphen."""
    assert slugify(name) == slug
    assert slugify(slug) == slug
    assert parse_ref(make_ref("run", "demo", slug), kind="run").parts == ("demo", slug)


@pytest.mark.parametrize("name", ["", "   ", "!!!", "---", "日本語"])
def test_slugify_refuses_names_without_letters_or_digits(name: str) -> None:
    """A name that folds to nothing is a ValidationError naming the field and the original value."""
    with pytest.raises(ValidationError) as caught:
        slugify(name, field="run_name")
    assert str(caught.value) == f"run_name: must contain at least one letter or digit (got {name!r})"


def test_slugify_refuses_names_longer_than_a_component() -> None:
    """A name that is longer than 128 characters once normalised is refused."""
    with pytest.raises(ValidationError, match=r"^name: is longer than 128 characters once normalised"):
        slugify("ab" * 65)


def test_slugify_refuses_non_strings() -> None:
    """slugify(3) is a ValidationError, not a TypeError."""
    with pytest.raises(ValidationError, match=r"^name: must be a string \(got 3\)$"):
        slugify(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ref", "kind", "parts"),
    [
        ("project:demo", "project", ("demo",)),
        ("run:demo.r1", "run", ("demo", "r1")),
        ("stage:demo.r1.train", "stage", ("demo", "r1", "train")),
        ("batch:demo.r1.train.epoch-0", "batch", ("demo", "r1", "train", "epoch-0")),
        ("sample:demo.r1.train.s-0001", "sample", ("demo", "r1", "train", "s-0001")),
        ("sample:demo.r1.train.epoch-0.s-0001", "sample", ("demo", "r1", "train", "epoch-0", "s-0001")),
        ("deployment:demo.prod-v1", "deployment", ("demo", "prod-v1")),
        ("record:demo.r1.m_000001", "record", ("demo", "r1", "m_000001")),
        ("artifact:demo.r1.model", "artifact", ("demo", "r1", "model")),
        ("environment:demo.r1", "environment", ("demo", "r1")),
        ("model:demo.ranker.v3", "model", ("demo", "ranker", "v3")),
        ("dataset:sklearn.iris", "dataset", ("sklearn", "iris")),
        ("dataset:warehouse", "dataset", ("warehouse",)),
        ("dataset:warehouse.sales_2024.v3", "dataset", ("warehouse", "sales_2024", "v3")),
        ("dataset:a.b.c.d.e.f.g.h", "dataset", tuple("abcdefgh")),
    ],
)
def test_valid_refs_parse_into_kind_and_parts(ref: str, kind: str, parts: tuple[str, ...]) -> None:
    """Every documented ref form parses, and str() gives the ref back."""
    parsed = parse_ref(ref)
    assert parsed == Ref(kind, parts)
    assert str(parsed) == ref
    assert parsed.project == parts[0]
    assert make_ref(kind, *parts) == ref


@pytest.mark.parametrize(
    ("ref", "rule"),
    [
        ("sample:demo.r1.train", "a sample ref has 4 or 5 dot-separated components"),
        ("sample:demo.r1.train.epoch-0.s1.extra", "a sample ref has 4 or 5 dot-separated components"),
        ("stage:demo.r1", "a stage ref has 3 dot-separated components"),
        ("project:demo.x", "a project ref has 1 dot-separated components"),
        ("run-demo-r1", "must look like 'kind:component.component'"),
        ("run:demo.", f"component '' {COMPONENT_RULE}"),
        ("run:demo.-r1", f"component '-r1' {COMPONENT_RULE}"),
        ("run:demo.r1-", f"component 'r1-' {COMPONENT_RULE}"),
        ("run:demo.r 1", f"component 'r 1' {COMPONENT_RULE}"),
        ("run:demo." + "x" * 129, f"component '{'x' * 129}' {COMPONENT_RULE}"),
        ("dataset:Sales.v1", f"component 'Sales' {COMPONENT_RULE}"),
        ("record:demo.my_run.m1", f"component 'my_run' {COMPONENT_RULE}"),
    ],
)
def test_invalid_refs_are_refused_with_the_rule(ref: str, rule: str) -> None:
    """A malformed ref raises ValidationError '<field>: <rule> (got <ref>)'."""
    with pytest.raises(ValidationError) as caught:
        parse_ref(ref, "Model.some_ref")
    assert str(caught.value) == f"Model.some_ref: {rule} (got {ref!r})"


def test_component_of_128_characters_is_allowed() -> None:
    """128 characters is the longest allowed component."""
    assert parse_ref("run:demo." + "x" * 128).parts[1] == "x" * 128


def test_parse_ref_with_expected_kind_refuses_other_kinds() -> None:
    """parse_ref(kind='run') refuses a stage ref and says which kind it wanted."""
    with pytest.raises(ValidationError, match=r"^run_ref: must be a 'run' ref \('run:\.\.\.'\)"):
        parse_ref("stage:demo.r1.train", "run_ref", "run")


def test_parse_ref_refuses_non_strings() -> None:
    """None is not a ref: ValidationError naming the field."""
    with pytest.raises(
        ValidationError, match=r"^ref: must be a ref string like 'run:project\.run' \(got None\)$"
    ):
        parse_ref(None)


def test_dataset_ref_with_too_many_components_states_the_real_limit() -> None:
    """The message for a too-long dataset ref states the allowed range 1 to 8."""
    with pytest.raises(ValidationError) as caught:
        parse_ref("dataset:" + ".".join("abcdefghi"))
    assert "1 to 8" in str(caught.value)


def _sample(ref: str, batch: str | None) -> SampleObservation:
    return SampleObservation(
        sample_observation_ref=ref,
        run_ref="run:demo.r1",
        stage_execution_ref="stage:demo.r1.train",
        batch_execution_ref=batch,
        sample_name=ref.rsplit(".", 1)[1],
        observed_at="2025-01-01T00:01:30Z",
    )


def test_sample_refs_live_under_a_stage_or_a_batch() -> None:
    """A sample has 4 components under a stage and 5 under a batch."""
    assert _sample("sample:demo.r1.train.s-0001", None).batch_execution_ref is None
    under_batch = _sample("sample:demo.r1.train.epoch-0.s-0001", "batch:demo.r1.train.epoch-0")
    assert under_batch.batch_execution_ref == "batch:demo.r1.train.epoch-0"


def test_sample_ref_of_five_parts_needs_its_batch() -> None:
    """A 5-part sample ref without batch_execution_ref does not extend the stage by one component."""
    with pytest.raises(ValidationError, match=r"^SampleObservation\.sample_observation_ref: must extend"):
        _sample("sample:demo.r1.train.epoch-0.s-0001", None)


def test_sample_ref_of_four_parts_refused_under_a_batch() -> None:
    """A 4-part sample ref is not under the batch it claims."""
    with pytest.raises(
        ValidationError, match=r"must extend batch_execution_ref 'batch:demo\.r1\.train\.epoch-0'"
    ):
        _sample("sample:demo.r1.train.s-0001", "batch:demo.r1.train.epoch-0")
