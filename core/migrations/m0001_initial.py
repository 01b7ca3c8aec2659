"""Schema v1: memories with provenance, their FTS5 index, vectors, sources and trust, media,
settings, the audit log, conversations and citations, erase journal, import files."""

SQL = """
CREATE TABLE sources(
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  identity TEXT NOT NULL UNIQUE,
  label TEXT NOT NULL,
  alpha REAL NOT NULL,
  beta REAL NOT NULL,
  pinned TEXT CHECK (pinned IN ('always', 'never')),
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL,
  last_write_at REAL,
  writes INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE trust_events(
  id INTEGER PRIMARY KEY,
  source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
  time REAL NOT NULL,
  evidence TEXT NOT NULL,
  detail TEXT,
  d_alpha REAL NOT NULL,
  d_beta REAL NOT NULL,
  alpha REAL NOT NULL,
  beta REAL NOT NULL,
  memory_id INTEGER
);
CREATE INDEX trust_events_source ON trust_events(source_id, time);

-- Encrypted screenshot files; item_key is the per-item AES key (crypto-shredded on erase).
CREATE TABLE media(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  thumb_path TEXT,
  item_key BLOB,
  mime TEXT NOT NULL,
  width INTEGER,
  height INTEGER,
  bytes INTEGER NOT NULL DEFAULT 0,
  time REAL NOT NULL,
  app TEXT,
  title TEXT
);
CREATE INDEX media_time ON media(time);

CREATE TABLE memories(
  id INTEGER PRIMARY KEY,
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

-- External-content FTS5: the text lives once, in memories; triggers keep the index in step.
CREATE VIRTUAL TABLE memories_fts USING fts5(
  text, title, app,
  content='memories', content_rowid='id',
  tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO memories_fts(memories_fts, rank) VALUES('secure-delete', 1);

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

-- Embeddings (float32, L2-normalised): the source of truth the HNSW index is rebuilt from.
CREATE TABLE vectors(
  memory_id INTEGER PRIMARY KEY REFERENCES memories(id) ON DELETE CASCADE,
  model TEXT NOT NULL,
  vec BLOB NOT NULL
);

-- Chat conversations held in the chat window; messages are memories of kind 'chat'.
CREATE TABLE conversations(
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  created_at REAL NOT NULL,
  updated_at REAL NOT NULL
);

-- Which memories an assistant answer (a derived memory) cited; erased with what it cites.
CREATE TABLE citations(
  answer_id INTEGER NOT NULL REFERENCES memories(id) ON DELETE CASCADE,
  memory_id INTEGER NOT NULL,
  position INTEGER NOT NULL,
  PRIMARY KEY (answer_id, memory_id)
);
CREATE INDEX citations_memory ON citations(memory_id);

CREATE TABLE settings(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- When and what kind of thing happened, with counts; never content.
CREATE TABLE audit(
  id INTEGER PRIMARY KEY,
  time REAL NOT NULL,
  event TEXT NOT NULL,
  detail TEXT
);

-- Erase jobs are journalled so an interrupted erase resumes on the next unlock.
CREATE TABLE erase_jobs(
  id INTEGER PRIMARY KEY,
  created_at REAL NOT NULL,
  kind TEXT NOT NULL,
  spec TEXT NOT NULL,
  state TEXT NOT NULL,
  receipt TEXT
);
CREATE TABLE erase_items(
  job_id INTEGER NOT NULL REFERENCES erase_jobs(id) ON DELETE CASCADE,
  memory_id INTEGER NOT NULL,
  PRIMARY KEY (job_id, memory_id)
);

-- One row per imported file: what it was and what came of it.
CREATE TABLE imports(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  format TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  time REAL NOT NULL,
  imported INTEGER NOT NULL,
  duplicates INTEGER NOT NULL,
  rejected INTEGER NOT NULL
);
"""
