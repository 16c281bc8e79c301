"""requirements.txt parsing, merging, hashing, the worker's needs, and checking an installed environment."""

from __future__ import annotations

import platform
import sys

import pytest

from runtime.envs.requirements import (
    INTERPRETER,
    WORKER_NEEDS,
    RequirementSet,
    digest,
    installed_here,
    merged,
    parse_requirements,
    satisfied_by,
    with_worker_needs,
)
from runtime.errors import SpecError

# What `mlflow.sklearn.save_model` writes next to MLmodel (MLflow 2.9).
MLFLOW_REQUIREMENTS = """\
mlflow==2.9.2
cloudpickle==3.0.0
numpy==1.26.2
scikit-learn==1.3.2
scipy==1.11.4
"""


def test_mlflow_requirements_txt_normalizes_and_sorts() -> None:
    reqs = parse_requirements(MLFLOW_REQUIREMENTS.splitlines(), where="model/requirements.txt")
    assert reqs.requirements == (
        "cloudpickle==3.0.0",
        "mlflow==2.9.2",
        "numpy==1.26.2",
        "scikit-learn==1.3.2",
        "scipy==1.11.4",
    )
    assert reqs.source == "model/requirements.txt"
    assert (reqs.index_options, reqs.notes, reqs.python) == ((), (), None)


def test_comments_blank_lines_names_and_continuations() -> None:
    lines = [
        "# models need these",
        "",
        "Scikit_Learn >= 1.2   # trailing comment",
        "PyYAML",
        "requests[Security,SOCKS] ==2.31.0 ; python_version >= '3.8'",
        "torch @ https://download.pytorch.org/whl/cpu/torch-2.1.0%2Bcpu-cp311-cp311-linux_x86_64.whl#sha256=ab",
        "numpy>=1.2,\\",
        "  <2",
    ]
    reqs = parse_requirements(lines, where="requirements.txt")
    assert reqs.requirements == (
        "numpy<2,>=1.2",
        "pyyaml",
        'requests[security,socks]==2.31.0; python_version >= "3.8"',
        "scikit-learn>=1.2",
        "torch @ https://download.pytorch.org/whl/cpu/torch-2.1.0%2Bcpu-cp311-cp311-linux_x86_64.whl#sha256=ab",
    )


def test_index_options_are_kept_in_order_in_one_spelling() -> None:
    lines = [
        "--extra-index-url https://pypi.example/simple",
        "-i https://mirror.example/simple",
        "--find-links=./wheels",
        "numpy",
    ]
    reqs = parse_requirements(lines, where="requirements.txt")
    assert reqs.index_options == (
        "--extra-index-url https://pypi.example/simple",
        "--index-url https://mirror.example/simple",
        "--find-links ./wheels",
    )


def test_two_entries_for_one_name_merge_their_specifiers() -> None:
    reqs = parse_requirements(["numpy>=1.2", "NumPy<2", "pandas", "pandas"], where="r.txt")
    assert reqs.requirements == ("numpy<2,>=1.2", "pandas")


def test_a_pin_and_a_range_that_admits_it_merge() -> None:
    reqs = parse_requirements(["numpy==1.23.5", "numpy>=1.2"], where="r.txt")
    assert reqs.requirements == ("numpy==1.23.5,>=1.2",)


def test_entries_under_different_markers_stay_apart() -> None:
    reqs = parse_requirements(["numpy==1.24.4; python_version < '3.9'", "numpy==1.26.2"], where="r.txt")
    assert reqs.requirements == ('numpy==1.24.4; python_version < "3.9"', "numpy==1.26.2")


def test_two_pins_for_one_name_are_refused_naming_both() -> None:
    with pytest.raises(SpecError, match=r"^r\.txt: numpy==1\.23\.5 and numpy==1\.24\.0 cannot both hold"):
        parse_requirements(["numpy==1.23.5", "pandas", "numpy==1.24.0"], where="r.txt")


def test_a_pin_outside_a_prefix_is_refused() -> None:
    with pytest.raises(SpecError, match=r"numpy==1\.23\.\* and numpy==1\.24\.1 cannot both hold"):
        parse_requirements(["numpy==1.23.*", "numpy==1.24.1"], where="r.txt")


def test_nested_files_editables_and_paths_are_refused_together() -> None:
    lines = ["-r base.txt", "-c constraints.txt", "-e ./mypkg", "./wheels/foo-1.0-py3-none-any.whl", "numpy==abc"]
    with pytest.raises(SpecError) as caught:
        parse_requirements(lines, where="requirements.txt")
    message = caught.value.message
    assert message.startswith("requirements.txt: '-r base.txt' refers to another file")
    for quoted in ("'-c constraints.txt'", "'-e ./mypkg'", "'./wheels/foo-1.0-py3-none-any.whl' is a path"):
        assert quoted in message
    assert "'numpy==abc' is not a valid requirement (Expected semicolon" in message
    assert message.endswith("or one of --index-url URL, --extra-index-url URL, --find-links PATH")


def test_azure_serving_stack_is_dropped_with_a_note() -> None:
    reqs = parse_requirements(["azureml-defaults==1.49.0", "azureml_inference_server_http", "joblib"], where="r.txt")
    assert reqs.requirements == ("joblib",)
    assert reqs.notes == (
        "azureml-defaults, azureml-inference-server-http are left out: modelyard serves the scoring contract "
        "itself, azureml.contrib.services included",
    )


def test_hashes_are_dropped_with_a_note() -> None:
    lines = ["numpy==1.26.2 \\", "    --hash=sha256:aaaa \\", "    --hash=sha256:bbbb"]
    reqs = parse_requirements(lines, where="r.txt")
    assert reqs.requirements == ("numpy==1.26.2",)
    assert reqs.notes == ("--hash options are not checked: modelyard installs by name and version",)


def test_digest_ignores_order_notes_source_and_python() -> None:
    one = parse_requirements(["scipy==1.11.4", "numpy==1.26.2"], where="a.txt")
    two = parse_requirements(["numpy==1.26.2", "# same", "SciPy==1.11.4"], where="b.txt")
    shown = RequirementSet(requirements=two.requirements, notes=("hello",), python="3.8", source="elsewhere")
    assert digest(one) == digest(two) == digest(shown)
    assert len(digest(one)) == 16
    int(digest(one), 16)


def test_digest_changes_with_a_pin_an_index_the_interpreter_and_relax() -> None:
    base = parse_requirements(["numpy==1.26.2"], where="a.txt")
    others = {
        digest(parse_requirements(["numpy==1.26.3"], where="a.txt")),
        digest(parse_requirements(["numpy==1.26.2", "--index-url https://mirror/simple"], where="a.txt")),
        digest(base, interpreter="cpython-3.12.1-linux-x86_64"),
        digest(base, relax=True),
    }
    assert digest(base) not in others
    assert len(others) == 4


def test_interpreter_tag_names_this_python() -> None:
    assert INTERPRETER.startswith(f"{sys.implementation.name}-{platform.python_version()}")


def test_merged_unions_sets_and_keeps_notes_in_order() -> None:
    one = RequirementSet(requirements=("numpy>=1.2",), notes=("first",), python="3.9", source="conda file a")
    two = RequirementSet(requirements=("numpy<2", "pandas"), index_options=("--index-url https://m/simple",))
    both = merged(one, two, notes=("last", "first"))
    assert both.requirements == ("numpy<2,>=1.2", "pandas")
    assert both.index_options == ("--index-url https://m/simple",)
    assert both.notes == ("first", "last")
    assert (both.python, both.source) == ("3.9", "conda file a")


def test_merged_refuses_clashing_pins() -> None:
    one = RequirementSet(requirements=("numpy==1.23.5",), source="conda file a")
    two = RequirementSet(requirements=("numpy==1.26.2",), source="MLflow model b")
    with pytest.raises(SpecError, match=r"^conda file a, MLflow model b: numpy==1\.23\.5 and numpy==1\.26\.2"):
        merged(one, two)


def test_worker_needs_are_added_beside_the_users_packages() -> None:
    reqs = with_worker_needs(parse_requirements(["numpy==1.26.2"], where="r.txt"))
    assert reqs.requirements == ("inference-schema>=1.5", "msgspec>=0.19", "numpy==1.26.2", "werkzeug>=3")
    assert len(WORKER_NEEDS) == 3


def test_worker_needs_merge_into_the_users_own_entries() -> None:
    user = parse_requirements(["inference-schema[numpy-support]==1.5.1", "Werkzeug~=3.0"], where="r.txt")
    reqs = with_worker_needs(user)
    assert reqs.requirements == (
        "inference-schema[numpy-support]==1.5.1,>=1.5",
        "msgspec>=0.19",
        "werkzeug>=3,~=3.0",
    )


def test_a_user_pin_the_worker_cannot_use_is_refused_naming_both() -> None:
    user = parse_requirements(["werkzeug==2.2.3", "msgspec==0.18.*", "numpy"], where="conda file env.yml")
    with pytest.raises(SpecError) as caught:
        with_worker_needs(user)
    assert caught.value.message == (
        "conda file env.yml: the environment pins msgspec==0.18.* but modelyard's worker needs msgspec>=0.19; "
        "remove the pin or pin a version that msgspec>=0.19 admits; "
        "the environment pins werkzeug==2.2.3 but modelyard's worker needs werkzeug>=3; "
        "remove the pin or pin a version that werkzeug>=3 admits"
    )


def test_a_pin_under_a_false_marker_does_not_clash_with_the_worker() -> None:
    user = parse_requirements(["werkzeug==2.2.3; python_version < '3.0'"], where="r.txt")
    reqs = with_worker_needs(user)
    assert 'werkzeug==2.2.3; python_version < "3.0"' in reqs.requirements
    assert "werkzeug>=3" in reqs.requirements


INSTALLED = {"numpy": "1.26.2", "scikit-learn": "1.3.2", "onnxruntime-gpu": "1.17.0", "torch": "2.3.0rc1"}


@pytest.mark.parametrize(
    ("lines", "met"),
    [
        (["numpy>=1.2,<2", "scikit-learn==1.3.*"], True),
        (["numpy>=2"], False),
        (["pandas"], False),
        (["onnxruntime>=1.16"], True),
        (["torch>=2.2"], True),
        (["pandas; python_version < '3.0'"], True),
        (["numpy @ https://example.org/numpy-1.26.2-cp311-cp311-linux_x86_64.whl"], False),
        (["numpy", "--index-url https://mirror/simple"], False),
    ],
)
def test_satisfied_by_a_fake_installed_map(lines: list[str], met: bool) -> None:
    assert satisfied_by(parse_requirements(lines, where="r.txt"), INSTALLED) is met


def test_extras_are_met_when_their_own_requirements_are() -> None:
    metadata = {"inference-schema": ["wrapt>=1.14", "numpy>=1.13.0; extra == 'numpy-support'"]}
    reqs = parse_requirements(["inference-schema[numpy-support]>=1.5"], where="r.txt")
    assert satisfied_by(reqs, {"inference-schema": "1.8", "numpy": "1.26.2"}, requires=metadata.get)
    assert not satisfied_by(reqs, {"inference-schema": "1.8"}, requires=metadata.get)
    assert not satisfied_by(reqs, {"inference-schema": "1.8", "numpy": "1.26.2"}, requires=lambda _: None)


def test_installed_here_lists_this_interpreters_distributions() -> None:
    here = installed_here()
    import msgspec

    assert here["msgspec"] == msgspec.__version__
    assert satisfied_by(parse_requirements([f"msgspec=={msgspec.__version__}", "packaging"], where="r"), here)


def test_installer_preferences_are_noted_and_unknown_options_refused() -> None:
    reqs = parse_requirements(["--prefer-binary", "--trusted-host=mirror", "numpy"], where="r.txt")
    assert reqs.notes == (
        "installer options --prefer-binary, --trusted-host are ignored: only index options and requirements are used",
    )
    with pytest.raises(SpecError, match=r"^r\.txt: '--no-index' is not an option modelyard understands; "):
        parse_requirements(["--no-index", "numpy"], where="r.txt")
    with pytest.raises(SpecError, match=r"^r\.txt: '--index-url' needs a URL or path after it"):
        parse_requirements(["--index-url"], where="r.txt")


def test_worker_needs_twice_is_the_same_set() -> None:
    once = with_worker_needs(parse_requirements(["werkzeug==3.0.1", "msgspec==0.19.*"], where="r.txt"))
    assert once.requirements == ("inference-schema>=1.5", "msgspec==0.19.*,>=0.19", "werkzeug==3.0.1,>=3")
    assert with_worker_needs(once) == once
    assert digest(with_worker_needs(once)) == digest(once)


def test_arbitrary_equality_pins_are_checked_too() -> None:
    with pytest.raises(SpecError, match=r"pins werkzeug===2\.2\.3 but modelyard's worker needs werkzeug>=3"):
        with_worker_needs(parse_requirements(["werkzeug===2.2.3"], where="r.txt"))


def test_two_urls_for_one_name_are_refused() -> None:
    lines = ["foo @ https://example.org/foo-1.0.tar.gz", "foo @ https://example.org/foo-2.0.tar.gz"]
    with pytest.raises(SpecError, match=r"name different files for foo; keep one$"):
        parse_requirements(lines, where="r.txt")


@pytest.mark.parametrize(
    ("wanted", "installed"),
    [
        ("opencv-python>=4.8", {"opencv-python-headless": "4.9.0.80"}),
        ("tensorflow==2.15.*", {"tensorflow-cpu": "2.15.1"}),
        ("onnxruntime", {"onnxruntime-gpu": "1.17.0"}),
    ],
)
def test_alias_distributions_meet_the_name_they_provide(wanted: str, installed: dict[str, str]) -> None:
    assert satisfied_by(parse_requirements([wanted], where="r.txt"), installed)
    assert not satisfied_by(parse_requirements([wanted], where="r.txt"), {})
