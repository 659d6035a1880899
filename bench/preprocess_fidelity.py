"""Measurement: how faithful the engine's image preprocessing is, and what a trained model notices.

Prints the figures docs/models-open-clip.md quotes ("Faithful to open_clip's reference"):

A. What trained weights notice: EfficientNet-Lite0 (ImageNet weights from the offline
   plugin's package) on scikit-image's 14 sample photos, each perturbation against its own
   reference preprocessing: the cosine of the pooled features (the embedding its logits are
   made from), how often the top-1 class stays, and the pixel difference of the inputs.
B. ViT-B-32's input tensors, the engine's path (Pillow extractor, draft decoding, the
   open-clip plugin's transform) against open_clip's ``preprocess`` of the full picture,
   one file per decoding path; then three deliberately lossy variants of the engine.
C. The old check, embeddings of random weights (ViT-B-32 and mmsearch-tiny), on the same
   paths and variants: it cannot tell them apart.
D. The cost: decoding and preprocessing one 12 MP JPEG, full size and drafted.

Pixel differences: largest difference in 1/255 steps and PSNR (peak 1) over the input
tensor, the normalisation undone. Run from the repository root (about a minute):

    .venv/bin/python bench/preprocess_fidelity.py
"""

from __future__ import annotations

import copy
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mmsearch_images
import open_clip
import torch
import torch.nn.functional as F
from mmsearch_images import reduce as reduce_module
from mmsearch_offline.image_model import ImageModel
from open_clip.transform import PreprocessCfg, image_transform_v2
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
# tests/fidelity.py: the photos, the decoding paths and the metrics.
import fidelity
from mmsearch_open_clip import TINY_ARCH, parse_choice
from mmsearch_open_clip.configs import register_own_configs
from mmsearch_open_clip.runtime import create_model

Transform = Callable[[Image.Image], torch.Tensor]


def blur(picture: Image.Image, input_pixels: float, side: int) -> Image.Image:
    """A Gaussian blur of ``input_pixels`` pixels of the model's input (scaled to the picture)."""
    return picture.filter(ImageFilter.GaussianBlur(input_pixels * min(picture.size) / side))


@contextmanager
def keep_factor(factor: int) -> Iterator[None]:
    saved = reduce_module.KEEP_FACTOR
    reduce_module.KEEP_FACTOR = factor
    try:
        yield
    finally:
        reduce_module.KEEP_FACTOR = saved


@contextmanager
def no_exif_rotation() -> Iterator[None]:
    saved = mmsearch_images.ImageOps.exif_transpose
    mmsearch_images.ImageOps.exif_transpose = lambda image, **kw: image  # type: ignore[assignment]
    try:
        yield
    finally:
        mmsearch_images.ImageOps.exif_transpose = saved  # type: ignore[assignment]


def jpeg_copy(picture: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def trained_eye(folder: Path) -> None:
    model = ImageModel.load()
    net, side = model.net, model.resize_to
    std = torch.tensor([0.5, 0.5, 0.5])
    names = [*fidelity.PHOTOS, "12 MP mosaic"]
    files = []
    for name in fidelity.PHOTOS:
        path = folder / (Path(name).stem + ".png")
        fidelity.skimage_photo(name).save(path)
        files.append(path)
    files.append(folder / "mosaic.jpg")
    fidelity.mosaic().save(files[-1], quality=90)
    pictures = [fidelity.reference_picture(path) for path in files]
    reference = torch.stack([model.transform(p) for p in pictures])
    features, top1 = fidelity.features_and_classes(net, reference)

    def row(label: str, batch: torch.Tensor, of: torch.nn.Module = net) -> None:
        ours, classes = fidelity.features_and_classes(of, batch)
        cosine = F.cosine_similarity(ours, features)
        same = classes == top1
        diffs = [fidelity.difference(a, b, std) for a, b in zip(batch, reference, strict=True)]
        worst = int(cosine.argmin())
        psnrs = [d[1] for d in diffs]
        print(
            f"  {label:40s} cos min {float(cosine.min()):.4f} ({names[worst][:10]:10s}) "
            f"median {float(cosine.median()):.4f}  top-1 kept {int(same.sum()):2d}/{len(names)}  "
            f"PSNR min {min(psnrs):5.1f} median {statistics.median(psnrs):5.1f} dB  "
            f"max diff {max(d[0] for d in diffs):5.1f}/255"
        )

    def transformed(change: Callable[[Image.Image], Image.Image]) -> torch.Tensor:
        return torch.stack([model.transform(change(p)) for p in pictures])

    print(f"A. EfficientNet-Lite0 (trained), {len(names)} photos, input {side} px resize:")
    row("nothing changed (the floor)", reference)
    for radius in (0.25, 0.35, 0.5, 1.0):
        row(f"blur {radius} input px", transformed(lambda p, r=radius: blur(p, r, side)))
    for radius in (1, 2, 4, 8):
        row(
            f"blur {radius} px of the photo",
            transformed(lambda p, r=radius: p.filter(ImageFilter.GaussianBlur(r))),
        )
    config = {"input_size": (3, 224, 224), "crop_pct": 224 / side, "mean": (0.5,) * 3}
    for interpolation in ("bilinear", "nearest", "lanczos"):
        from timm.data.transforms_factory import create_transform

        wrong = create_transform(**config, std=(0.5,) * 3, interpolation=interpolation)
        row(
            f"resize filter {interpolation} (not bicubic)",
            torch.stack([wrong(p) for p in pictures]),
        )
    row(
        "rotated 90 degrees (EXIF ignored)",
        transformed(lambda p: p.transpose(Image.Transpose.ROTATE_270)),
    )
    row("a JPEG copy, quality 95", transformed(lambda p: jpeg_copy(p, 95)))
    for factor in (1, 2, 3):
        shipped = " (shipped)" if factor == reduce_module.KEEP_FACTOR else ""
        with keep_factor(factor):
            batch = torch.stack([model.transform(fidelity.engine_picture(f, side)) for f in files])
        row(f"extractor reduction, keep {factor}x side{shipped}", batch)
    bf16 = copy.deepcopy(net).to(torch.bfloat16)
    row("bf16 weights and inputs (vs fp32)", reference, of=bf16)


def variants_for(cfg: dict[str, Any]) -> tuple[int, dict[str, Callable[[Path], torch.Tensor]]]:
    """The engine's path and three lossy versions of it, for a model's preprocessing."""
    engine = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
    bilinear = image_transform_v2(PreprocessCfg(**{**cfg, "interpolation": "bilinear"}), False)
    size = cfg["size"]
    side = int(min(size) if isinstance(size, tuple | list) else size)

    def unrotated(path: Path) -> torch.Tensor:
        with no_exif_rotation():
            return engine(fidelity.engine_picture(path, side))

    return side, {
        "engine": lambda p: engine(fidelity.engine_picture(p, side)),
        "blur 1 input px": lambda p: engine(blur(fidelity.engine_picture(p, side), 1.0, side)),
        "bilinear resize": lambda p: bilinear(fidelity.engine_picture(p, side)),
        "EXIF rotation skipped": unrotated,
    }


def paths_table(folder: Path, cfg: dict[str, Any], preprocess: Transform) -> None:
    std = torch.tensor(cfg["std"])
    side, variants = variants_for(cfg)
    paths = fidelity.write_paths(folder)
    references = {k: preprocess(fidelity.reference_picture(p)) for k, p in paths.items()}
    print("\nB. ViT-B-32 input tensors against open_clip's preprocess of the full picture")
    print("   (max diff in 1/255 steps, PSNR in dB):")
    print(f"  {'path':28s} {'decoded':>11s}  " + "  ".join(f"{v:>21s}" for v in variants))
    for kind, path in paths.items():
        size = "x".join(map(str, fidelity.engine_picture(path, side).size))
        cells = []
        for fn in variants.values():
            most, psnr = fidelity.difference(fn(path), references[kind], std)
            cells.append(f"{most:7.1f} {psnr:6.1f} dB")
        print(f"  {kind:28s} {size:>11s}  " + "  ".join(f"{c:>21s}" for c in cells))

    print("\nC. The old check: cosine of random-weight embeddings, reference vs each variant")
    print("   (the lowest over the paths above)")
    for arch in ("ViT-B-32", TINY_ARCH):
        # The engine's seeded random weights (ARCH:random), as the tests use them.
        model = create_model(parse_choice(f"{arch}:random"))
        _, _, own_preprocess = open_clip.create_model_and_transforms(arch)
        _, own_variants = variants_for(dict(model.visual.preprocess_cfg))

        def embed(batch: torch.Tensor, model: Any = model) -> torch.Tensor:
            with torch.inference_mode():
                return F.normalize(model.encode_image(batch), dim=-1)

        expected = embed(
            torch.stack([own_preprocess(fidelity.reference_picture(p)) for p in paths.values()])
        )
        for variant, fn in own_variants.items():
            ours = embed(torch.stack([fn(p) for p in paths.values()]))
            cosines = (ours * expected).sum(dim=-1)
            print(f"  {arch:14s} {variant:22s} min cosine {float(cosines.min()):.5f}")


def cost(folder: Path, cfg: dict[str, Any]) -> None:
    path = folder / "camera.jpg"
    fidelity.mosaic().save(path, quality=90)
    engine = image_transform_v2(PreprocessCfg(**cfg), is_train=False)
    print("\nD. One 12 MP JPEG (4000x3000), 1 thread, median of 15: decode, then preprocess")
    for label, side, factor in (
        ("full size", None, 1),
        ("keep 1x side", 224, 1),
        ("keep 2x side", 224, 2),
    ):
        decode, prep = [], []
        with keep_factor(factor):
            for _ in range(15):
                started = time.perf_counter()
                picture = fidelity.engine_picture(path, side)
                decode.append(time.perf_counter() - started)
                started = time.perf_counter()
                engine(picture)
                prep.append(time.perf_counter() - started)
        width, height = picture.size
        print(
            f"  {label:14s} decoded {width}x{height}: "
            f"decode {1000 * statistics.median(decode):5.1f} ms, "
            f"preprocess {1000 * statistics.median(prep):5.1f} ms"
        )


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    register_own_configs()
    # The reference: open_clip's own transform for ViT-B-32 (the model itself is not used).
    reference_model, _, preprocess = open_clip.create_model_and_transforms("ViT-B-32")
    cfg = dict(reference_model.visual.preprocess_cfg)
    del reference_model
    with tempfile.TemporaryDirectory() as folder:
        if "--skip-a" not in sys.argv:  # sections B to D only
            trained_eye(Path(folder))
        paths_table(Path(folder), cfg, preprocess)
        cost(Path(folder), cfg)


if __name__ == "__main__":
    main()
