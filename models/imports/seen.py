"""What an import file's earlier rows hold (models/imports/importer.py): the first row of each name
and the name of the first row with each phone. Kept in a private temporary SQLite file, not
in memory: for a 200,000-row file the two maps held ~110 MB as dicts.

Used a batch of rows at a time: `load` the keys the batch will ask about, `get` and
`setdefault` (the first row wins, as dict.setdefault), then `save`."""
from __future__ import annotations

import sqlite3

LOAD_CHUNK = 500   # keys per SELECT


class SeenMap:
    def __init__(self, db: sqlite3.Connection, table: str):
        self.db, self.table = db, table
        db.execute(f"CREATE TABLE {table} (key TEXT PRIMARY KEY, value NOT NULL) WITHOUT ROWID")
        self.known: dict = {}    # loaded: what earlier batches stored
        self.new: dict = {}      # this batch's, saved by `save`

    def load(self, keys) -> None:
        keys = list(keys)
        for start in range(0, len(keys), LOAD_CHUNK):
            part = keys[start:start + LOAD_CHUNK]
            self.known.update(self.db.execute(
                f"SELECT key, value FROM {self.table} WHERE key IN "
                f"({','.join('?' * len(part))})", part))

    def get(self, key):
        value = self.known.get(key)
        return self.new.get(key) if value is None else value

    def setdefault(self, key, value) -> None:
        if key not in self.known and key not in self.new:
            self.new[key] = value

    def save(self) -> None:
        self.db.executemany(f"INSERT INTO {self.table} VALUES (?, ?)", self.new.items())
        self.known, self.new = {}, {}


class SeenRows:
    """names: name key -> first row; phones: e164 -> name of the first row having it."""

    def __init__(self):
        self.db = sqlite3.connect("", isolation_level=None)   # "": deleted when closed
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-2048")             # KiB
        self.names = SeenMap(self.db, "names")
        self.phones = SeenMap(self.db, "phones")

    def load(self, names, phones) -> None:
        self.names.load(names)
        self.phones.load(phones)

    def save(self) -> None:
        self.db.execute("BEGIN")
        self.names.save()
        self.phones.save()
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()
