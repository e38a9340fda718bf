"""The single hand-written SQL statement the monthly measure catalogue is measured against: reading adherence,
blood pressure and glucose control, callbacks closed on time and patients reached, for every month at once.

Same definitions as pdca.metrics and followup.metrics (see their docstrings), written the way a DBA would:
one statement, the periods as an unnested array, DISTINCT ON for "the latest reading of the last 3 months"."""

METRICS_SQL = """
WITH periods AS (
    SELECT * FROM unnest(%(idx)s::int[], %(start_at)s::timestamptz[], %(end_at)s::timestamptz[],
                         %(win_start)s::timestamptz[], %(ltfu_start)s::timestamptz[])
        AS t(idx, start_at, end_at, win_start, ltfu_start)
), panel AS (
    SELECT pr.idx, count(*) AS n
    FROM periods pr JOIN patient p ON p.clinic_id = %(clinic_id)s AND p.active
        AND (p.has_hypertension OR p.has_diabetes) AND p.created_at < pr.end_at
    GROUP BY pr.idx
), readers AS (
    SELECT pr.idx, count(DISTINCT r.patient_id) AS n
    FROM periods pr
    JOIN reading r ON r.clinic_id = %(clinic_id)s AND r.voided_at IS NULL
        AND r.taken_at >= pr.start_at AND r.taken_at < pr.end_at
    JOIN patient p ON p.id = r.patient_id AND p.active AND (p.has_hypertension OR p.has_diabetes)
        AND p.created_at < pr.end_at
    GROUP BY pr.idx
), latest AS (
    SELECT DISTINCT ON (pr.idx, r.patient_id, r.kind) pr.idx, r.patient_id, r.kind,
        CASE WHEN r.kind = 'blood_pressure' THEN r.systolic < 140 AND r.diastolic < 90
             ELSE r.meter_flag IS NULL AND ((r.unit_original = 'mmol/L' AND r.value_original < 7.0)
                                            OR (r.unit_original = 'mg/dL' AND r.value_original < 126)) END AS ok
    FROM periods pr
    JOIN reading r ON r.clinic_id = %(clinic_id)s AND r.voided_at IS NULL
        AND r.taken_at >= pr.win_start AND r.taken_at < pr.end_at
        AND (r.kind = 'blood_pressure' OR (r.kind = 'glucose' AND r.context = 'fasting'))
    ORDER BY pr.idx, r.patient_id, r.kind, r.taken_at DESC, r.id DESC
), retained AS (
    SELECT pr.idx, p.id, p.has_hypertension, p.has_diabetes
    FROM periods pr JOIN patient p ON p.clinic_id = %(clinic_id)s AND p.active AND p.created_at < pr.win_start
        AND (p.has_hypertension OR p.has_diabetes)
    WHERE p.created_at >= pr.ltfu_start
       OR EXISTS (SELECT 1 FROM reading v WHERE v.patient_id = p.id AND v.voided_at IS NULL
                  AND v.taken_at >= pr.ltfu_start AND v.taken_at < pr.end_at)
       OR EXISTS (SELECT 1 FROM callback c WHERE c.patient_id = p.id AND c.outcome = 'reached'
                  AND c.closed_at >= pr.ltfu_start AND c.closed_at < pr.end_at)
), control AS (
    SELECT t.idx,
        count(*) FILTER (WHERE t.has_hypertension) AS bp_d,
        count(*) FILTER (WHERE t.has_hypertension AND bp.ok) AS bp_n,
        count(*) FILTER (WHERE t.has_diabetes) AS gl_d,
        count(*) FILTER (WHERE t.has_diabetes AND gl.ok) AS gl_n
    FROM retained t
    LEFT JOIN latest bp ON bp.idx = t.idx AND bp.patient_id = t.id AND bp.kind = 'blood_pressure'
    LEFT JOIN latest gl ON gl.idx = t.idx AND gl.patient_id = t.id AND gl.kind = 'glucose'
    GROUP BY t.idx
), on_time AS (
    SELECT pr.idx, count(*) AS d,
           count(*) FILTER (WHERE c.status = 'closed' AND c.closed_at <= c.due_at) AS n
    FROM periods pr JOIN callback c ON c.clinic_id = %(clinic_id)s AND c.due_at >= pr.start_at
        AND c.due_at < least(pr.end_at, %(now)s)
    GROUP BY pr.idx
), reached AS (
    SELECT pr.idx, count(*) AS d, count(*) FILTER (WHERE c.outcome = 'reached') AS n
    FROM periods pr JOIN callback c ON c.clinic_id = %(clinic_id)s AND c.status = 'closed'
        AND c.closed_at >= pr.start_at AND c.closed_at < pr.end_at
    GROUP BY pr.idx
)
SELECT pr.idx,
       coalesce(readers.n, 0), coalesce(panel.n, 0),
       coalesce(control.bp_n, 0), coalesce(control.bp_d, 0), coalesce(control.gl_n, 0), coalesce(control.gl_d, 0),
       coalesce(on_time.n, 0), coalesce(on_time.d, 0), coalesce(reached.n, 0), coalesce(reached.d, 0)
FROM periods pr
LEFT JOIN panel ON panel.idx = pr.idx LEFT JOIN readers ON readers.idx = pr.idx
LEFT JOIN control ON control.idx = pr.idx LEFT JOIN on_time ON on_time.idx = pr.idx
LEFT JOIN reached ON reached.idx = pr.idx
ORDER BY pr.idx
"""

# The catalogue codes the statement computes, in its column order (numerator, denominator pairs).
COLUMNS = ("reading_adherence", "bp_controlled", "glucose_controlled", "callbacks_closed_on_time",
           "callbacks_reached")
