"""The gateway's DuckDB tables: creation, bulk audit insert, group-commit outcome writes."""

from __future__ import annotations

import uuid

import duckdb

from anka_assets.gateway import store


def _row(**kw) -> store.AuditRow:
    base = dict(
        audit_id=uuid.uuid4().hex, ts=store.utcnow(), run_id="r", asset="raw_cot", partition="tarih", seed_id="s",
        role="teacher", endpoint="simulator", model="m", backend="simulator", locality="local",
        sensitivity="public", decision="sent", reason="local endpoint", payload_sha256="p" * 64,
        cache_key=uuid.uuid4().hex * 2, status="pending",
    )
    base.update(kw)
    return store.AuditRow(**base)


def _outcome(status="ok") -> dict:
    return {"status": status, "attempts": 1, "prompt_tokens": 3, "completion_tokens": 5, "latency_s": 0.1,
            "cost": 0.0, "error": None, "completed_at": store.utcnow()}


def test_tables_bulk_audit_and_outcomes(tmp_path):
    db = tmp_path / "sub" / "w.duckdb"
    con = store.open_warehouse(db)
    try:
        store.ensure_tables(con)
        store.ensure_tables(con)  # idempotent
        rows = [_row() for _ in range(10)]
        store.insert_audit_rows(con, rows)
        assert con.execute("SELECT count(*) FROM anka.model_audit WHERE status = 'pending'").fetchone()[0] == 10

        def cached(r):
            return store.CachedResponse(r.cache_key, "yanıt", "stop", "m", 3, 5, 0.1, 0.0)

        # one small write (plain statements) and one large (unnest forms)
        store.record_outcomes(con, [([(rows[0].audit_id, _outcome())], cached(rows[0]))])
        store.record_outcomes(con, [([(r.audit_id, _outcome())], cached(r)) for r in rows[1:8]])
        store.record_outcomes(con, [([(rows[8].audit_id, _outcome("failed"))], None)])
        # a key that is already cached must not lose the audit outcome
        store.record_outcomes(con, [([(rows[9].audit_id, _outcome())], cached(rows[0]))])

        statuses = dict(con.execute("SELECT status, count(*) FROM anka.model_audit GROUP BY status").fetchall())
        assert statuses == {"ok": 9, "failed": 1}
        assert con.execute("SELECT count(*) FROM anka.model_cache").fetchone()[0] == 8
        found = store.lookup_cache(con, [r.cache_key for r in rows] + ["missing"])
        assert set(found) == {r.cache_key for r in rows[:8]}
        assert found[rows[3].cache_key].text == "yanıt" and found[rows[3].cache_key].completion_tokens == 5
    finally:
        con.close()
    with duckdb.connect(str(db), read_only=True) as ro:
        cols = [r[0] for r in ro.execute("DESCRIBE anka.model_audit").fetchall()]
    assert cols[:3] == ["audit_id", "ts", "run_id"] and "payload_sha256" in cols and not {"prompt", "messages", "text", "api_key"} & set(cols)
