"""The library's companion spaces: spaces every index run fills beside the main one.

A library has one main space (the active one, which a switch of model replaces) and may
keep companions for the segments the main encoder does not embed: a CLAP space for sounds
beside an image/text space. They are recorded by space key in one catalog setting, added
with ``mmsearch index FOLDER --space clap``, written by every later run and searched by
every default query.
"""

from __future__ import annotations

import json

from mmsearch.store.catalog import Catalog, SpaceInfo

COMPANIONS_SETTING = "companion_spaces"
"""The setting that holds the companion spaces' keys, as a JSON list."""


def companion_keys(catalog: Catalog) -> list[str]:
    """The recorded companion space keys, in the order they were added."""
    raw = catalog.setting(COMPANIONS_SETTING)
    if not raw:
        return []
    try:
        found = json.loads(raw)
    except ValueError:
        return []  # written by something else: no companions rather than a failed run
    return [str(k) for k in found] if isinstance(found, list) else []


def companion_spaces(catalog: Catalog) -> list[SpaceInfo]:
    """The companion spaces that exist in the catalog, in the order they were added."""
    by_key = {s.key: s for s in catalog.spaces()}
    return [by_key[k] for k in companion_keys(catalog) if k in by_key]


def add_companion(catalog: Catalog, key: str) -> bool:
    """Record ``key`` as a companion space; False when it was one already."""
    keys = companion_keys(catalog)
    if key in keys:
        return False
    catalog.set_setting(COMPANIONS_SETTING, json.dumps([*keys, key]))
    return True


def remove_companion(catalog: Catalog, key: str) -> bool:
    """Stop filling ``key`` (its vectors stay until the space is dropped); False if absent."""
    keys = companion_keys(catalog)
    if key not in keys:
        return False
    catalog.set_setting(COMPANIONS_SETTING, json.dumps([k for k in keys if k != key]))
    return True
