"""Schema v2: memory ids are never handed out again: `memories` is rebuilt with AUTOINCREMENT
(SQLite's table-rebuild procedure), its sequence starting at every id the store still names."""

# Why: an INTEGER PRIMARY KEY without AUTOINCREMENT reuses the ids of the newest rows once they
# are deleted, so after an erase a new memory could take an erased memory's id, and the index
# labels, the erase journal, trust evidence and citations that name that id would name it.
# AUTOINCREMENT makes SQLite itself keep the largest id ever used (in sqlite_sequence, updated
# in the inserting transaction), for every insert path, including explicit ids.
#
# migrate() runs this with foreign-key enforcement off (PRAGMA foreign_keys cannot change inside
# a transaction): with it on, DROP TABLE memories would first delete every row and cascade the
# delete into vectors and citations. It checks PRAGMA foreign_key_check before committing.
# The rows keep their ids, so the external-content FTS index (rowid = id) stays valid as it is;
# DROP TABLE takes the triggers and indexes along, so they are made again exactly as in v1.

SQL = """
DROP TRIGGER memories_fts_insert;
DROP TRIGGER memories_fts_delete;
DROP TRIGGER memories_fts_update;

CREATE TABLE memories_v2(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  source_id INTEGER REFERENCES sources(id) ON DELETE SET NULL,
  time REAL NOT NULL,
  text TEXT NOT NULL,
  app TEXT,
  title TEXT,
  domain TEXT,
  author TEXT,
  conversation TEXT,
  file TEXT,
  external_id TEXT,
  media_id INTEGER REFERENCES media(id) ON DELETE SET NULL,
  boxes TEXT,
  region TEXT,
  dedup_key TEXT,
  trust REAL NOT NULL DEFAULT 0.5,
  status TEXT NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'quarantined', 'rejected')),
  reasons TEXT,
  derived INTEGER NOT NULL DEFAULT 0,
  hidden INTEGER NOT NULL DEFAULT 0,
  created_at REAL NOT NULL
);
INSERT INTO memories_v2(id, kind, source_id, time, text, app, title, domain, author,
  conversation, file, external_id, media_id, boxes, region, dedup_key, trust, status, reasons,
  derived, hidden, created_at)
SELECT id, kind, source_id, time, text, app, title, domain, author,
  conversation, file, external_id, media_id, boxes, region, dedup_key, trust, status, reasons,
  derived, hidden, created_at
FROM memories ORDER BY id;
DROP TABLE memories;
-- Renaming the new table (not the old one) leaves the references in vectors and citations
-- as they are: they name "memories", which this becomes.
ALTER TABLE memories_v2 RENAME TO memories;

CREATE UNIQUE INDEX memories_external ON memories(kind, external_id)
  WHERE external_id IS NOT NULL;
CREATE INDEX memories_time ON memories(time);
CREATE INDEX memories_app_time ON memories(app, time);
CREATE INDEX memories_kind_time ON memories(kind, time);
CREATE INDEX memories_source ON memories(source_id);
CREATE INDEX memories_media ON memories(media_id);
CREATE INDEX memories_dedup ON memories(dedup_key);
CREATE INDEX memories_status ON memories(status) WHERE status != 'ok';
CREATE INDEX memories_conversation ON memories(conversation, time);

CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_fts(rowid, text, title, app) VALUES (new.id, new.text, new.title, new.app);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, text, title, app)
    VALUES ('delete', old.id, old.text, old.title, old.app);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF text, title, app ON memories BEGIN
  INSERT INTO memories_fts(memories_fts, rowid, text, title, app)
    VALUES ('delete', old.id, old.text, old.title, old.app);
  INSERT INTO memories_fts(rowid, text, title, app) VALUES (new.id, new.text, new.title, new.app);
END;

-- The sequence starts at the largest id still named anywhere: the rows themselves, an erase
-- still journalled, trust evidence, citations. (Ids a finished v1 erase left no trace of
-- cannot be known; from now on none is lost.)
INSERT INTO sqlite_sequence(name, seq)
  SELECT 'memories', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'memories');
UPDATE sqlite_sequence SET seq = max(
  seq,
  (SELECT coalesce(max(id), 0) FROM memories),
  (SELECT coalesce(max(memory_id), 0) FROM erase_items),
  (SELECT coalesce(max(memory_id), 0) FROM trust_events),
  (SELECT coalesce(max(memory_id), 0) FROM citations),
  (SELECT coalesce(max(answer_id), 0) FROM citations)
) WHERE name = 'memories';
"""
