"""Schema v5: the durable capture backlog (frames waiting for OCR, each an encrypted file whose
per-frame key lives here, like media) and the versions of window memories (a window's text is
one memory updated as it changes; each earlier state is kept as a version with its screenshot)."""

SQL = """
CREATE TABLE capture_backlog(
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  monitor TEXT NOT NULL,
  path TEXT NOT NULL,
  item_key BLOB,
  bytes INTEGER NOT NULL
);
CREATE INDEX capture_backlog_time ON capture_backlog(time);

CREATE TABLE memory_versions(
  id INTEGER PRIMARY KEY,
  memory_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  time REAL NOT NULL,
  text TEXT NOT NULL,
  media_id INTEGER REFERENCES media(id) ON DELETE SET NULL
);
CREATE INDEX memory_versions_memory ON memory_versions(memory_id, time);
CREATE INDEX memory_versions_media ON memory_versions(media_id);
"""
