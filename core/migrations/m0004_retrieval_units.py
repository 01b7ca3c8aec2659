"""Schema v4: retrieval units and event times.

A unit is a larger piece of text a memory is also found through: a chat turn together with its
neighbours in the conversation (speaker names included), indexed in `units_fts` (contentless:
the text stays only in `memories`). `unit_members` names every memory whose text a unit holds;
the triggers below delete each unit that holds a memory as soon as that memory is deleted,
hidden, changed or changes status (quarantine), so no erased or quarantined text stays findable
through a unit, whatever path erased it. The other members are marked in `units_stale` and
their units are built again by core.units.refresh (after each add and delete, and on unlock).

`memory_events` holds the dates a memory's own text speaks of ("yesterday" in a message of
3 July 2023 is 2 July 2023), resolved against the memory's time by core.eventtime, as day
numbers (days since 1970-01-01, UTC) [start, end] inclusive. Deleted with the memory."""

SQL = """
CREATE VIRTUAL TABLE units_fts USING fts5(
  text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
);
INSERT INTO units_fts(units_fts, rank) VALUES('secure-delete', 1);

CREATE TABLE unit_members(
  memory_id INTEGER NOT NULL,
  unit_id INTEGER NOT NULL,  -- the unit's centre memory (the rowid in units_fts)
  PRIMARY KEY (memory_id, unit_id)
) WITHOUT ROWID;
CREATE INDEX unit_members_unit ON unit_members(unit_id);

CREATE TABLE units_stale(memory_id INTEGER PRIMARY KEY);

CREATE TABLE memory_events(
  memory_id INTEGER NOT NULL,
  start_day INTEGER NOT NULL,
  end_day INTEGER NOT NULL,
  label TEXT NOT NULL
);
CREATE INDEX memory_events_memory ON memory_events(memory_id);
CREATE INDEX memory_events_day ON memory_events(start_day, end_day);

CREATE TRIGGER units_on_insert AFTER INSERT ON memories BEGIN
  INSERT OR IGNORE INTO units_stale(memory_id) VALUES (new.id);
END;

CREATE TRIGGER units_on_delete AFTER DELETE ON memories BEGIN
  INSERT OR IGNORE INTO units_stale(memory_id)
    SELECT unit_id FROM unit_members WHERE memory_id = old.id AND unit_id != old.id;
  DELETE FROM units_fts WHERE rowid IN
    (SELECT unit_id FROM unit_members WHERE memory_id = old.id);
  DELETE FROM unit_members WHERE unit_id IN
    (SELECT unit_id FROM unit_members WHERE memory_id = old.id);
  DELETE FROM unit_members WHERE memory_id = old.id;
  DELETE FROM units_stale WHERE memory_id = old.id;
  DELETE FROM memory_events WHERE memory_id = old.id;
END;

CREATE TRIGGER units_on_change AFTER UPDATE OF text, hidden, status, derived, author,
  conversation, time ON memories BEGIN
  INSERT OR IGNORE INTO units_stale(memory_id)
    SELECT unit_id FROM unit_members WHERE memory_id = old.id;
  INSERT OR IGNORE INTO units_stale(memory_id) VALUES (old.id);
  DELETE FROM units_fts WHERE rowid IN
    (SELECT unit_id FROM unit_members WHERE memory_id = old.id);
  DELETE FROM unit_members WHERE unit_id IN
    (SELECT unit_id FROM unit_members WHERE memory_id = old.id);
END;

-- Every memory there is gets its unit and event times on the first refresh.
INSERT INTO units_stale(memory_id) SELECT id FROM memories;
"""
