"""``mmsearch serve``: one open library behind a REST API, a page, and live folders.

The modules: :mod:`.discovery` (the file beside the catalog that tells clients a server is
up), :mod:`.client` (the CLI's thin, import-light client), :mod:`.state` (the open library
and its locks), :mod:`.app` and :mod:`.routes` (the ASGI app), :mod:`.jobs` (index jobs),
:mod:`.thumbs` (thumbnails), :mod:`.watch` (live folders), :mod:`.server` (running it).
"""
