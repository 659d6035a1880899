"""``mmsearch query`` and ``mmsearch eval``: thin click layers over :meth:`Library.search`."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mmsearch.cli.context import db_option, open_library, store_option
from mmsearch.cli.render import result_lines
from mmsearch.errors import UsageError
from mmsearch.query.names import FUSION_METHODS, SIGNALS
from mmsearch.safe_text import terminal_safe_lines
from mmsearch.shapes import dumps, eval_json, plan_json, search_json

if TYPE_CHECKING:
    from mmsearch.library import Library
    from mmsearch.query.evaluation import EvalQuery, RankedHit
    from mmsearch.query.planner import SearchOptions
    from mmsearch.query.querylang import Filters
    from mmsearch.query.runner import SearchResult

_FILTER_FLAGS = ("type", "ext", "path", "after", "before", "duration")


def filters_from_flags(values: Mapping[str, Sequence[str]]) -> Filters | None:
    """The filter flags (--type, --after, ...) as one Filters; raises UsageError."""
    from mmsearch.query.querylang import parse_filter

    merged: Filters | None = None
    for key in _FILTER_FLAGS:
        for value in values.get(key, ()):
            parsed = parse_filter(key, value, flag=f"--{key}")
            if merged is None:
                merged = parsed
            elif key in ("type", "ext"):
                merged = replace(
                    merged,
                    types=merged.types | parsed.types,
                    extensions=merged.extensions | parsed.extensions,
                )
            elif key == "path":
                merged = replace(merged, paths=merged.paths + parsed.paths)
            else:
                merged = merged.merged(parsed)
    return merged


def search_options(**given: Any) -> SearchOptions:
    """SearchOptions from CLI values, leaving out those not given."""
    from mmsearch.query.planner import SearchOptions

    names = {f.name for f in fields(SearchOptions)}
    return SearchOptions(**{k: v for k, v in given.items() if k in names and v is not None})


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The filter flags shared by ``query`` (and the same syntax as in-query filters)."""
    flags = [
        ("--type", "Only these types: image, audio, text, video (repeatable)."),
        ("--ext", "Only these file extensions, e.g. jpg,png (repeatable)."),
        ("--path", "Only paths matching this glob, e.g. 'holidays/**' (repeatable)."),
        ("--after", "Only files modified on or after: 2023-01-01, 2023-05, 30d, 2w..."),
        ("--before", "Only files modified before this date or age."),
        ("--duration", "Only recordings this long: '<60s', '>10m', '1m..5m'."),
    ]
    for flag, text in reversed(flags):
        multiple = flag in ("--type", "--ext", "--path")
        kind = click.Choice(["image", "audio", "text", "video"]) if flag == "--type" else None
        func = click.option(flag, multiple=multiple, type=kind, help=text)(func)
    return func


class _QueryCommand(click.Command):
    """``query``, which tells a query text starting with '-' to come after ``--``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as usual; an unknown option that reads as a query gets the hint."""
        given = list(args)  # the parser consumes ``args``
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            typed = next((a for a in given if a.startswith(exc.option_name)), exc.option_name)
            if typed.startswith("--") and not any(c.isspace() for c in typed):
                raise  # a mistyped long option: click's message (and suggestion) fits
            raise click.UsageError(
                f"No such option {exc.option_name!r}. A query starting with '-' needs `--` "
                f"first: {ctx.command_path} -- {shlex.quote(typed)}",
                ctx,
            ) from exc


@click.command(cls=_QueryCommand)
@click.argument("text", required=False)
@click.option("--image", multiple=True, help="An example image: find similar (repeatable; "
              "WEIGHT:PATH to weight it, -WEIGHT:PATH to push such files down).")  # fmt: skip
@click.option("--audio", multiple=True, help="An example recording, by what is said in it "
              "(repeatable, weights as for --image).")  # fmt: skip
@click.option("-k", "k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Number of results.")  # fmt: skip
@filter_options
@click.option("--in", "within", multiple=True, type=click.Path(path_type=Path),
              help="Only results under this folder (repeatable).")  # fmt: skip
@click.option("--fusion", type=click.Choice(FUSION_METHODS), default="score", show_default=True,
              help="Fuse signals by calibrated score, or by reciprocal rank.")  # fmt: skip
@click.option("--signals", type=click.Choice(["both", *SIGNALS]), default="both",
              show_default=True, help="Which retrieval signals to use.")  # fmt: skip
@click.option("--min-score", type=float, help="Confidence threshold on the calibrated scale "
              "(standard deviations above unrelated queries); default: per signal.")  # fmt: skip
@click.option("--show-weak", is_flag=True, help="List results below the threshold too.")
@click.option("--rerank", multiple=True, help="Run a reranker that is off by default (mmr).")
@click.option("--no-rerank", multiple=True, help="Skip a reranker: exact, attention, dedupe.")
@click.option("--diverse", is_flag=True, help="Prefer variety among the results (MMR).")
@click.option("--diversity", type=click.FloatRange(0, 1), help="MMR trade-off (1: relevance "
              "only, 0: variety only; default 0.7); implies --diverse.")  # fmt: skip
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True),
              help="Attention over a file's segments (lower: nearer its best one).")  # fmt: skip
@click.option("--space", multiple=True, help="Search this space (id or encoder; repeatable).")
@click.option("--max-image-megapixels", type=click.FloatRange(min=0.01), default=100.0,
              show_default=True, help="Refuse example images larger than this "
              "(decompression bombs), as `index` does.")  # fmt: skip
@click.option("--explain-plan", is_flag=True, help="Print the query plan and stop.")
@click.option("--json", "as_json", is_flag=True, help="Print results (with `why`) as JSON.")
@click.option("--no-server", is_flag=True, help="Run in this process even when `mmsearch serve` "
              "runs for this catalog (by default the query is asked of it).")  # fmt: skip
@store_option
@db_option
@click.pass_context
def query(ctx: click.Context, /, text: str | None, image: tuple[str, ...], audio: tuple[str, ...],
          k: int, within: tuple[Path, ...], fusion: str, signals: str, min_score: float | None,
          show_weak: bool, rerank: tuple[str, ...], no_rerank: tuple[str, ...], diverse: bool,
          diversity: float | None, temperature: float | None, space: tuple[str, ...],
          max_image_megapixels: float, explain_plan: bool, as_json: bool, no_server: bool,
          **filter_flags: tuple[str, ...] | str | None,
          ) -> None:  # fmt: skip
    """Find the files that best match TEXT, example files, or both.

    TEXT is in the query language: words, "quoted phrases" that must appear,
    +also -not 2:weighted parts, and filters such as type:image ext:jpg
    path:holidays/** after:2023-01 before:2024 duration:<60s. See
    docs/querying.md.
    """
    if not (text and text.strip()) and not image and not audio:
        raise click.UsageError("Give a query text, or an example file with --image or --audio.")
    if not no_server:
        params = {
            **{k: _as_tuple(v) for k, v in filter_flags.items()}, "k": k, "fusion": fusion,
            "in": [os.path.abspath(w) for w in within], "signals": signals,
            "min_score": min_score, "show_weak": show_weak, "rerank": rerank,
            "no_rerank": no_rerank, "diverse": diverse, "diversity": diversity,
            "temperature": temperature, "space": space,
            "max_image_megapixels": max_image_megapixels,
        }  # fmt: skip
        examples = [("image", e) for e in image] + [("audio", e) for e in audio]
        if _ask_server(ctx, text, examples, params, explain_plan, as_json):
            return
    with open_library(ctx, read_only=True) as lib:
        try:
            flags = {k: _as_tuple(v) for k, v in filter_flags.items()}
            filters = filters_from_flags(flags)
        except UsageError as exc:
            raise click.UsageError(str(exc)) from exc
        options = search_options(
            k=k, fusion=fusion, min_score=min_score, keep_weak=show_weak,
            signals=SIGNALS if signals == "both" else (signals,),
            rerank=rerank + (("mmr",) if diverse or diversity is not None else ()),
            no_rerank=no_rerank, diversity=diversity, temperature=temperature, spaces=space,
            max_image_megapixels=max_image_megapixels,
        )  # fmt: skip
        request: dict[str, Any] = {
            "examples": [*image, *audio],
            "filters": filters,
            "within": list(within),
            "options": options,
        }
        if explain_plan:
            shaped = plan_json(lib.plan(text, **request))
            described = terminal_safe_lines("\n".join(shaped["described"]))  # names examples
            click.echo(dumps(shaped) if as_json else described)
            return
        result = lib.search(text, **request)
    _print_result(result, as_json)


def _ask_server(ctx: click.Context, text: str | None, examples: list[tuple[str, str]],
                params: dict[str, Any], explain_plan: bool, as_json: bool) -> bool:  # fmt: skip
    """Print the answer of a running server for this catalog; False when there is none."""
    from mmsearch.serve import client

    server = client.find(ctx.obj.get("db"))
    if server is None:
        return False
    try:
        shaped = client.search(server, text, examples, params, plan=explain_plan)
    except client.ServerRefusedError as exc:
        raise click.UsageError(terminal_safe_lines(str(exc))) from exc
    if shaped is None:
        return False
    if explain_plan:
        described = terminal_safe_lines("\n".join(shaped["described"]))
        click.echo(dumps(shaped) if as_json else described)
    else:
        print_search(shaped, as_json)
    return True


def _as_tuple(value: tuple[str, ...] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _print_result(result: SearchResult, as_json: bool) -> None:
    print_search(search_json(result), as_json)


def print_search(shaped: dict[str, Any], as_json: bool) -> None:
    """Print a query's answer from its JSON shape: in-process and from a server alike."""
    if as_json:
        click.echo(dumps(shaped))
        return
    out, err = result_lines(shaped)
    for line in err:
        click.echo(line, err=True)
    for line in out:
        click.echo(line)


# -- eval ---------------------------------------------------------------------------------

_CONFIG_KEYS = {
    "fusion": str,
    "signals": str,
    "space": str,
    "rerank": str,
    "temperature": float,
    "diversity": float,
    "candidates": int,
}


def parse_config(spec: str) -> SearchOptions:
    """``fusion=rrf,signals=vector,rerank=+mmr-attention`` as SearchOptions (k=10, weak kept)."""
    given: dict[str, Any] = {"k": 10, "keep_weak": True}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key not in _CONFIG_KEYS:
            raise UsageError(
                f"Bad configuration {item!r} in {spec!r}: use KEY=VALUE with KEY one of "
                f"{', '.join(_CONFIG_KEYS)}, e.g. fusion=rrf,signals=vector."
            )
        if key == "signals":
            given["signals"] = tuple(value.replace("both", "vector+keyword").split("+"))
        elif key == "space":
            given["spaces"] = tuple(value.split("+"))
        elif key == "rerank":
            given.update(_rerank_spec(value))
        else:
            try:
                given[key] = _CONFIG_KEYS[key](value)
            except ValueError as exc:
                raise UsageError(f"Bad value for {key} in {spec!r}: {value!r}.") from exc
    return search_options(**given).validated()


def _rerank_spec(value: str) -> dict[str, tuple[str, ...]]:
    on: list[str] = []
    off: list[str] = []
    for sign, name in _signed(value):
        (off if sign == "-" else on).append(name)
    return {"rerank": tuple(on), "no_rerank": tuple(off)}


def _signed(value: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    sign = "+"
    name = ""
    for ch in value:
        if ch in "+-":
            if name:
                out.append((sign, name))
            sign, name = ch, ""
        else:
            name += ch
    if name:
        out.append((sign, name))
    return out


def eval_searcher(lib: Library, options: SearchOptions) -> Callable[[EvalQuery], list[RankedHit]]:
    """What :func:`mmsearch.query.evaluation.evaluate` calls: one query under ``options``."""
    from mmsearch.query.evaluation import RankedHit

    def search(query: EvalQuery) -> list[RankedHit]:
        examples = [p for p in (query.image, query.audio) if p]
        result = lib.search(query.text, examples=examples, options=options)
        return [RankedHit(h.path, h.start, h.end, h.copies, h.level) for h in result.hits]

    return search


@click.command(name="eval")
@click.argument("queries", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--config", "config", default="", help="Search configuration, e.g. "
              "'fusion=rrf,signals=vector,rerank=-attention' (default: the defaults).")  # fmt: skip
@click.option("--compare", help="A second configuration, run on the same queries side by side.")
@click.option("--per-query", is_flag=True, help="List every query's result (or differences).")
@click.option("--no-answer", "no_answer", type=click.Path(dir_okay=False, path_type=Path),
              help="Queries with no right answer in the library (nonsense, off-topic), "
              "same format without 'relevant': the share the gate refuses.")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the report(s) as JSON.")
@db_option
@click.pass_context
def eval_command(ctx: click.Context, queries: Path, config: str, compare: str | None,
                 per_query: bool, no_answer: Path | None, as_json: bool) -> None:  # fmt: skip
    """Measure search quality: recall@1/5/10, MRR and nDCG@10 over QUERIES (JSON lines).

    Each line: {"query": "...", "relevant": ["path", ...]} (or "image"/"audio"
    example files, time ranges, "modality"); see docs/querying.md.
    """
    from mmsearch.query.evaluation import evaluate, format_comparison, format_report, load_queries

    with open_library(ctx, read_only=True) as lib:
        loaded = load_queries(queries)
        refusable = load_queries(no_answer, no_answer=True) if no_answer else []
        configs = [(config or "default", parse_config(config))]
        if compare is not None:
            configs.append((compare or "default", parse_config(compare)))
        modality_of = _modality_of(lib)
        reports = []
        for name, opts in configs:
            search = eval_searcher(lib, opts)
            report = evaluate(loaded, search, name=name, modality_of=modality_of,
                              no_answer=refusable)  # fmt: skip
            reports.append(report)
    if as_json:
        click.echo(dumps(eval_json(reports)))
    elif len(reports) == 2:
        click.echo(format_comparison(reports[0], reports[1], per_query=per_query))
    else:
        click.echo(format_report(reports[0], per_query=per_query))


def _modality_of(lib: Library) -> Callable[[EvalQuery], str | None]:
    def modality(query: EvalQuery) -> str | None:
        return lib.media_type_of(query.relevant[0].path) if query.relevant else None

    return modality
