"""Read-only queries over what the loader stored: previews, rejection summaries and the
data-quality figures the `dataset` asset checks report."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

# A translation more than this many times longer or shorter, relative to the edition's
# median length ratio, is counted as an outlier (reported, never rejected).
RATIO_FACTOR = 3.0


@dataclass(frozen=True)
class AccountingRow:
    edition: str
    version: int
    source_file: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    in_dataset: int
    in_rejected: int

    @property
    def balanced(self) -> bool:
        return (self.rows_read == self.rows_loaded + self.rows_rejected
                and self.in_dataset == self.rows_loaded and self.in_rejected == self.rows_rejected)


@dataclass(frozen=True)
class EditionFigure:
    edition: str
    count: int
    rows: int
    detail: str = ""


@dataclass(frozen=True)
class RejectionKind:
    reason: str  # the reason's kind: the text before its first colon
    rows: int
    first_line: int


def rejection_kinds(conn: psycopg.Connection, edition_id: int) -> list[RejectionKind]:
    """An edition version's rejections counted by kind, most frequent first."""
    rows = conn.execute(
        "select split_part(reason, ':', 1), count(*), min(line_number) from llm.rejected_rows "
        "where edition_id = %s group by 1 order by 2 desc, 1",
        (edition_id,),
    ).fetchall()
    return [RejectionKind(*row) for row in rows]


def preview(conn: psycopg.Connection, edition_id: int, limit: int = 3) -> list[tuple[str, str, str, str]]:
    return conn.execute(
        "select source_reference, source_language, source_text, official_translate from llm.dataset "
        "where edition_id = %s order by id limit %s",
        (edition_id, limit),
    ).fetchall()


def accounting(conn: psycopg.Connection) -> list[AccountingRow]:
    """Every edition the loader wrote: counts recorded at load time against the rows stored."""
    rows = conn.execute("""
        select e.name, e.version, e.source_file, e.rows_read, e.rows_loaded, e.rows_rejected,
               (select count(*) from llm.dataset d where d.edition_id = e.id),
               (select count(*) from llm.rejected_rows r where r.edition_id = e.id)
        from llm.dataset_editions e
        where e.file_sha256 is not null
        order by e.name, e.version
    """).fetchall()
    return [AccountingRow(*row) for row in rows]


def empty_texts(conn: psycopg.Connection) -> int:
    return conn.execute(
        r"select count(*) from llm.dataset where source_text ~ '^\s*$' or official_translate ~ '^\s*$'"
    ).fetchone()[0]


def length_ratio_outliers(conn: psycopg.Connection, factor: float = RATIO_FACTOR) -> list[EditionFigure]:
    """Per current edition: rows whose translation/source length ratio is more than `factor`
    times away from the edition's median ratio, with the worst few references."""
    rows = conn.execute("""
        with r as (
            select edition_id, source_reference,
                   ln(char_length(official_translate)::float8 / char_length(source_text)) as lr
            from llm.current_dataset
            where char_length(source_text) > 0 and char_length(official_translate) > 0
        ), m as (
            select edition_id, percentile_cont(0.5) within group (order by lr) as med from r group by 1
        ), scored as (
            select r.edition_id, r.source_reference, abs(r.lr - m.med) as off, m.med
            from r join m using (edition_id)
        )
        select e.name, count(*) filter (where off > ln(%(f)s)), count(*), exp(min(med)),
               (array_agg(source_reference order by off desc) filter (where off > ln(%(f)s)))[1:5]
        from scored join llm.dataset_editions e on e.id = scored.edition_id
        group by e.name order by e.name
    """, {"f": factor}).fetchall()
    return [
        EditionFigure(name, n, total, f"median ratio {median:.2f}; worst: {', '.join(worst or []) or '-'}")
        for name, n, total, median, worst in rows
    ]


def duplicate_source_texts(conn: psycopg.Connection) -> list[EditionFigure]:
    """Per current edition: source texts that appear under more than one reference."""
    rows = conn.execute("""
        select e.name, count(t.source_text), coalesce(sum(t.n), 0),
               (array_agg(t.refs order by t.n desc) filter (where t.n is not null))[1:3]
        from llm.current_dataset_editions e
        left join (
            select edition_id, source_text, count(*) as n,
                   string_agg(source_reference, ' ' order by id) as refs
            from llm.current_dataset group by 1, 2 having count(*) > 1
        ) t on t.edition_id = e.id
        where e.file_sha256 is not null
        group by e.name order by e.name
    """).fetchall()
    return [EditionFigure(name, texts, int(total), "; ".join(examples or [])) for name, texts, total, examples in rows]
