-- forecast_monitoring: have the inputs drifted away from what the champion was trained on?
-- The latest days (:current_start .. A) against the reference window (the end of the champion's training
-- window, :reference_start .. :reference_end; the two never overlap).
-- Rows:
--   units_sold, unit_price, on_promotion: psi = the population stability index of the feature's bins,
--     sum over bins of (cur - ref) * ln(cur / ref), each share floored at 1e-4 so an empty bin stays finite;
--     value = the feature's mean over the latest days. NULL psi if either window has no rows.
--     Bins are fixed, so a day's PSI can be compared with any other day's:
--       units_sold   floor(log2(units + 1)), capped at 10 (0, 1, 2-3, 4-7, ..., 1023+): counts are skewed
--       unit_price   whole currency units, 0 .. 50 (prices run 1.50-25.00)
--       on_promotion false / true
--   active_series_share: the share of the reference window's series with a sales row, averaged over the
--     :current_days latest days; new_series_share: the latest days' series absent from the reference window,
--     over the latest days' series; vanished_series_share: reference series with no row in the latest days,
--     over the reference series. psi is NULL for these.
-- Runs with the forecast database as QueryExecutionContext.Database; the raw database is :raw_database.
-- Parameters: :reference_start, :reference_end, :current_start, :actuals_day ('YYYY-MM-DD'), :current_days,
--   :champion_version (the champion's version, '' if there is none: written as NULL).
WITH sales AS (
    SELECT store_id, item_id, dt, CAST(units_sold AS DOUBLE) AS units_sold, unit_price, on_promotion,
           IF(dt >= :current_start, 'current', 'reference') AS period
    FROM :raw_database.sales
    WHERE dt BETWEEN :reference_start AND :reference_end
        OR dt BETWEEN :current_start AND :actuals_day
),
binned AS (
    SELECT period, 'units_sold' AS feature, least(CAST(floor(log2(units_sold + 1e0)) AS INTEGER), 10) AS bin,
           units_sold AS value
    FROM sales WHERE units_sold >= 0e0
    UNION ALL
    SELECT period, 'unit_price', least(greatest(CAST(floor(unit_price) AS INTEGER), 0), 50), unit_price
    FROM sales WHERE unit_price IS NOT NULL
    UNION ALL
    SELECT period, 'on_promotion', IF(on_promotion, 1, 0), IF(on_promotion, 1e0, 0e0)
    FROM sales WHERE on_promotion IS NOT NULL
),
counts AS (
    SELECT feature, bin, count_if(period = 'reference') AS n_ref, count_if(period = 'current') AS n_cur
    FROM binned
    GROUP BY feature, bin
),
totals AS (
    SELECT feature, sum(n_ref) AS t_ref, sum(n_cur) AS t_cur
    FROM counts
    GROUP BY feature
),
shares AS (
    SELECT c.feature,
           greatest(CAST(c.n_ref AS DOUBLE) / nullif(CAST(t.t_ref AS DOUBLE), 0e0), 1e-4) AS p_ref,
           greatest(CAST(c.n_cur AS DOUBLE) / nullif(CAST(t.t_cur AS DOUBLE), 0e0), 1e-4) AS p_cur
    FROM counts AS c
    JOIN totals AS t ON t.feature = c.feature
),
psi AS (
    SELECT feature, sum((p_cur - p_ref) * ln(p_cur / p_ref)) AS psi
    FROM shares
    GROUP BY feature
),
means AS (
    SELECT feature, avg(value) AS value
    FROM binned
    WHERE period = 'current'
    GROUP BY feature
),
reference_series AS (
    SELECT DISTINCT store_id, item_id FROM sales WHERE period = 'reference'
),
current_rows AS (
    SELECT DISTINCT store_id, item_id, dt FROM sales WHERE period = 'current'
),
current_series AS (
    SELECT DISTINCT store_id, item_id FROM current_rows
),
series AS (
    SELECT
        CAST((SELECT count(*) FROM current_rows AS c JOIN reference_series AS r
              ON r.store_id = c.store_id AND r.item_id = c.item_id) AS DOUBLE)
            / nullif(CAST((SELECT count(*) FROM reference_series) AS DOUBLE) * :current_days, 0e0)
            AS active_series_share,
        CAST((SELECT count(*) FROM current_series AS c LEFT JOIN reference_series AS r
              ON r.store_id = c.store_id AND r.item_id = c.item_id WHERE r.store_id IS NULL) AS DOUBLE)
            / nullif(CAST((SELECT count(*) FROM current_series) AS DOUBLE), 0e0) AS new_series_share,
        CAST((SELECT count(*) FROM reference_series AS r LEFT JOIN current_series AS c
              ON c.store_id = r.store_id AND c.item_id = r.item_id WHERE c.store_id IS NULL) AS DOUBLE)
            / nullif(CAST((SELECT count(*) FROM reference_series) AS DOUBLE), 0e0) AS vanished_series_share
),
features AS (
    SELECT f.feature, p.psi, m.value
    FROM (VALUES 'units_sold', 'unit_price', 'on_promotion') AS f (feature)
    LEFT JOIN psi AS p ON p.feature = f.feature
    LEFT JOIN means AS m ON m.feature = f.feature
    UNION ALL
    SELECT 'active_series_share', CAST(NULL AS DOUBLE), active_series_share FROM series
    UNION ALL
    SELECT 'new_series_share', CAST(NULL AS DOUBLE), new_series_share FROM series
    UNION ALL
    SELECT 'vanished_series_share', CAST(NULL AS DOUBLE), vanished_series_share FROM series
)
SELECT
    feature,
    psi,
    value,
    :reference_start AS reference_start,
    :reference_end AS reference_end,
    nullif(:champion_version, '') AS champion_version
FROM features
