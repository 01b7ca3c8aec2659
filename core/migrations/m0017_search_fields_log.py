"""Schema v17: a log of the memories whose search fields changed.

Search keeps the fields it ranks and filters by (time, kind, app, trust, status, hidden,
derived, author, conversation, dedup key) in memory (core.search_fields), because at 1M memories
reading them from the table is a random page read per candidate (~45 us), most of a filtered
search's time. The triggers below write the id of every memory inserted, deleted, or changed in
one of those fields, so a reader can bring its copy up to date by reading only those rows,
whatever path wrote them (erase, quarantine, a trust change, a window's text growing): no
erased or quarantined memory can come back through a stale copy.

The log holds ids only (no text) and keeps itself short: every 1000th entry deletes those more
than 100,000 entries older. A reader that finds entries missing after the last one it read
(`seq` jumps) builds its copy afresh."""

SQL = """
CREATE TABLE memories_changed(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  memory_id INTEGER NOT NULL
);

CREATE TRIGGER search_fields_on_insert AFTER INSERT ON memories BEGIN
  INSERT INTO memories_changed(memory_id) VALUES (new.id);
END;

CREATE TRIGGER search_fields_on_delete AFTER DELETE ON memories BEGIN
  INSERT INTO memories_changed(memory_id) VALUES (old.id);
END;

CREATE TRIGGER search_fields_on_change AFTER UPDATE OF id, time, kind, app, trust, dedup_key,
  author, conversation, status, hidden, derived ON memories BEGIN
  INSERT INTO memories_changed(memory_id) VALUES (old.id);
  INSERT INTO memories_changed(memory_id) SELECT new.id WHERE new.id != old.id;
END;

CREATE TRIGGER search_fields_prune AFTER INSERT ON memories_changed
  WHEN new.seq % 1000 = 0 BEGIN
  DELETE FROM memories_changed WHERE seq <= new.seq - 100000;
END;
"""
