"""Schema v16: a vector can be stale. A window memory's text grows as the window changes; its
vector is no longer re-embedded at each change (about 150 ms of CPU a frame) but marked stale in
the same transaction as the text update, and brought up to date later (when the window is left,
when the user is idle, at most once a minute per window while it keeps changing, and whatever is
still stale when capture starts again). Meanwhile the new text is found by words (FTS is
updated with the row) and the memory by its older vector.

`stale` is the time of the oldest change not in the vector yet (NULL: up to date). It lives on
the vector's row, so erasing the memory (which deletes its vector) removes the mark with it, and
a vector written anew (INSERT OR REPLACE) starts up to date. The partial index keeps finding the
stale rows cheap: it holds only them."""

SQL = """
ALTER TABLE vectors ADD COLUMN stale REAL;
CREATE INDEX vectors_stale ON vectors(memory_id) WHERE stale IS NOT NULL;
"""
