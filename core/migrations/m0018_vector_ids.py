"""Schema v18: the ids of the vectors table, on their own.

Opening the vector index ends by reconciling it with the vectors table (core.vector_index:
`reconcile` reads every memory id that has a vector). Without this index that read scans the
table itself, whose rows are mostly the 1.5 KB vectors: at 100k memories 150 MB of pages
decrypted, 0.9-1.8 s of CPU, 10x that at 1M, while the first searches after unlock run
beside it and new memories wait for it. The index holds the ids only (about 8 bytes a memory),
is a covering index for that read (0.08 s of CPU at 100k) and for `count(*)`, and is kept by
SQLite with every insert and delete of a vector, so erasing a memory removes its entry with the
row."""

SQL = """
CREATE INDEX vectors_ids ON vectors(memory_id);
"""
