"""Schema v6: connected apps (local AI clients over MCP). One row per client the user has seen
or allowed, with its scope and a hash of the token the user handed it; and the read log, one
row per memory a client was given (ids only, never content)."""

SQL = """
CREATE TABLE clients(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL CHECK (status IN ('pending', 'allowed', 'cut_off')),
  token_hash TEXT,
  scope TEXT NOT NULL,
  source_id INTEGER REFERENCES sources(id) ON DELETE SET NULL,
  declared_name TEXT,
  created_at REAL NOT NULL,
  allowed_at REAL,
  cut_off_at REAL,
  last_seen_at REAL
);

CREATE TABLE client_reads(
  id INTEGER PRIMARY KEY,
  client_id INTEGER NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
  time REAL NOT NULL,
  tool TEXT NOT NULL,
  memory_id INTEGER NOT NULL
);
CREATE INDEX client_reads_client ON client_reads(client_id, time);
CREATE INDEX client_reads_memory ON client_reads(memory_id);
"""
