"""The ledger's SQLite tables: their migrations, the columns of a request, and the SQL form of
the "cost unknown" rule (pure: SQL text only; :mod:`~evo_magic.ledger.store` runs it).

Schema changes are an ordered list, :data:`MIGRATIONS`; ``schema_version`` records how many ran.
Only append to the list, and only with changes older code can live with (new tables, new
columns that are nullable or have a default).
"""

from __future__ import annotations

from .totals import TOKENS

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: one row per request
        """CREATE TABLE requests (
            id INTEGER PRIMARY KEY, at TEXT NOT NULL, notebook TEXT NOT NULL, session TEXT NOT NULL,
            origin TEXT NOT NULL, cell INTEGER, model_requested TEXT NOT NULL, model_answered TEXT,
            protocol TEXT NOT NULL, prompt_tokens INTEGER, cache_hit_tokens INTEGER, cache_miss_tokens INTEGER,
            completion_tokens INTEGER, reasoning_tokens INTEGER, cost TEXT, ttft REAL, elapsed REAL,
            outcome TEXT NOT NULL, error TEXT, response_id TEXT
        )""",
        "CREATE INDEX requests_by_notebook ON requests (notebook, at)",
    ),
    (  # 2: what a session restore needs, per successful request
        """CREATE TABLE turns (
            request_id INTEGER PRIMARY KEY REFERENCES requests (id) ON DELETE CASCADE,
            prompt TEXT NOT NULL,
            text TEXT NOT NULL,
            reasoning TEXT NOT NULL,
            tool_calls TEXT NOT NULL          -- JSON list of {id, name, arguments}
        )""",
    ),
    (  # 3: the exact history a turn added (reasoning to echo included), its cell, and whether
        # a reset, an undo or a re-run of its cell has since dropped it from the conversation
        "ALTER TABLE turns ADD COLUMN messages TEXT",  # JSON list of Message.to_record()
        "ALTER TABLE turns ADD COLUMN cell_id TEXT",
        "ALTER TABLE turns ADD COLUMN dropped INTEGER NOT NULL DEFAULT 0",
    ),
    (  # 4: answered by the bundled emulator (`%deepseek offline`): priced as DeepSeek would, never billed
        "ALTER TABLE requests ADD COLUMN offline INTEGER NOT NULL DEFAULT 0",
    ),
    (  # 5: answers by the exact request that got them (core/replay.py), for evo_magic.map and the
        # cell cache; a request's key, its map run, and what an answer from the store saved
        """CREATE TABLE answers (
            key TEXT PRIMARY KEY,             -- request_key(): SHA-256 of the exact request
            at TEXT NOT NULL,                 -- when it was answered (UTC, ISO 8601)
            protocol TEXT NOT NULL,
            model TEXT NOT NULL,              -- the model that answered
            events TEXT NOT NULL,             -- answer_record(): the answer's events as JSON
            cost TEXT,                        -- what it cost then (Decimal text; NULL: unknown)
            request_id INTEGER                -- the ledger row that paid for it
        )""",
        "ALTER TABLE requests ADD COLUMN request_key TEXT",
        "ALTER TABLE requests ADD COLUMN run_id TEXT",
        "ALTER TABLE requests ADD COLUMN saved TEXT",  # what an answer from the store did not cost again
    ),
    (  # 6: one row per evo_magic.map run: what its requests cannot say (ledger/runs.py)
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,              -- the run_id of its requests
            notebook TEXT NOT NULL, session TEXT NOT NULL, model TEXT NOT NULL,
            at TEXT NOT NULL,                 -- when it started (UTC, ISO 8601)
            rows INTEGER,                     -- rows of the table (NULL: unknown, a Dask frame)
            kept INTEGER NOT NULL DEFAULT 0,  -- rows answered without a request
            failed INTEGER NOT NULL DEFAULT 0,
            left_rows INTEGER,                -- rows not answered when it ended
            stopped TEXT,                     -- why it ended early (stop, budget, interrupted, ...)
            ended TEXT                        -- NULL until it ends: its kernel died
        )""",
        "CREATE INDEX runs_by_notebook ON runs (notebook, at)",
    ),
)

# "Cost unknown" excludes requests that failed before any token: the API bills none of those
# (the same rule as totals.cost_unknown, which group_totals applies to rows in memory).
UNKNOWN_COST = "cost IS NULL AND (prompt_tokens IS NOT NULL OR outcome != 'error' OR ttft IS NOT NULL)"
#: The columns of ``requests`` a :class:`~evo_magic.ledger.store.LedgerRow` fills, in order.
COLUMNS: tuple[str, ...] = ("at", "notebook", "session", "origin", "cell", "model_requested", "model_answered")
COLUMNS += ("protocol", *TOKENS, "cost", "ttft", "elapsed", "outcome", "error", "response_id", "offline")
COLUMNS += ("request_key", "run_id", "saved")  # schema 5
PRAGMAS = ("journal_mode = WAL", "synchronous = NORMAL", "foreign_keys = ON")
