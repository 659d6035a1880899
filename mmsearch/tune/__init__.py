"""``mmsearch tune``: learn a query-side adapter per space from the user's own labels."""
