-- demand_forecast: what the data-quality gate measures, as ONE row (batchml.quality judges it against
-- include/config/demand_forecast.yaml, `quality`).
-- It reads exactly what the two extracts read (their SQL is included below), and it runs in Athena, where
-- the data is: the extracts are never loaded into the Airflow worker, however many series there are.
-- Runs with the raw database (e.g. `retail`) as QueryExecutionContext.Database.
-- Parameters, sent as Athena ExecutionParameters (never pasted into this text):
--   the extracts' own: :history_start, :partition_date, :active_start, :first_day, :last_day
--   :baseline_start    first day of the recent history D is compared with (D itself excluded), 'YYYY-MM-DD'
--   :min_units         smallest plausible units_sold
--   :min_price, :max_price   plausible unit_price range
--   :series_max_ratio  a series' units on D above this multiple of its own baseline median is implausible
--   :series_floor_units      ... where the baseline median counts as at least this (slow sellers)
WITH history AS (
{% include 'demand_forecast/extract_training.sql' %}
),
scoring AS (
{% include 'demand_forecast/extract_scoring.sql' %}
),
window_stats AS (
    SELECT
        count(*) AS rows,
        count(DISTINCT sales_date) AS days,
        count(DISTINCT CASE WHEN sales_date BETWEEN CAST(:history_start AS DATE) AND CAST(:partition_date AS DATE)
                            THEN sales_date END) AS days_in_window,
        count_if(sales_date NOT BETWEEN CAST(:history_start AS DATE) AND CAST(:partition_date AS DATE))
            AS rows_outside_window,
        min(sales_date) AS first_day_seen,
        max(sales_date) AS last_day_seen,
        count_if(store_id IS NULL) AS null_store_id,
        count_if(item_id IS NULL) AS null_item_id,
        count_if(sales_date IS NULL) AS null_sales_date,
        count_if(units_sold IS NULL) AS null_units_sold,
        count_if(unit_price IS NULL) AS null_unit_price,
        count_if(on_promotion IS NULL) AS null_on_promotion,
        count_if(is_holiday IS NULL) AS null_is_holiday,
        count_if(units_sold < :min_units) AS units_below_min,
        min(units_sold) AS min_units_seen,
        min_by(sales_date, units_sold) AS min_units_day,
        count_if(unit_price < :min_price OR unit_price > :max_price) AS price_outside,
        min(unit_price) AS min_price_seen,
        max(unit_price) AS max_price_seen
    FROM history
),
series_stats AS (
    SELECT count(*) AS series FROM (SELECT DISTINCT store_id, item_id FROM history) AS s
),
day_stats AS (
    SELECT
        count(*) AS rows_on_d,
        count_if(store_id IS NULL) AS d_null_store_id,
        count_if(item_id IS NULL) AS d_null_item_id,
        count_if(sales_date IS NULL) AS d_null_sales_date,
        count_if(units_sold IS NULL) AS d_null_units_sold,
        count_if(unit_price IS NULL) AS d_null_unit_price,
        count_if(on_promotion IS NULL) AS d_null_on_promotion,
        count_if(is_holiday IS NULL) AS d_null_is_holiday,
        sum(units_sold) AS total_on_d
    FROM history
    WHERE sales_date = CAST(:partition_date AS DATE)
),
keys AS (
    SELECT store_id, item_id, sales_date, count(*) AS n,
           count(DISTINCT CAST(units_sold AS varchar) || '/' || CAST(unit_price AS varchar) || '/'
                 || CAST(on_promotion AS varchar)) AS versions
    FROM history
    GROUP BY store_id, item_id, sales_date
    HAVING count(*) > 1
),
duplicate_stats AS (
    SELECT
        count(*) AS duplicate_keys,
        coalesce(sum(n - 1), 0) AS duplicate_rows,
        count_if(versions > 1) AS conflicting_keys,
        min(store_id || '/' || item_id || '/' || CAST(sales_date AS varchar)) AS duplicate_example
    FROM keys
),
baseline_days AS (
    SELECT sales_date, sum(units_sold) AS total
    FROM history
    WHERE sales_date >= CAST(:baseline_start AS DATE) AND sales_date < CAST(:partition_date AS DATE)
    GROUP BY sales_date
),
baseline_total AS (
    SELECT count(*) AS baseline_days, approx_percentile(total, 0.5) AS baseline_median_total FROM baseline_days
),
series_baseline AS (
    SELECT store_id, item_id, approx_percentile(units_sold, 0.5) AS median_units
    FROM history
    WHERE sales_date >= CAST(:baseline_start AS DATE) AND sales_date < CAST(:partition_date AS DATE)
    GROUP BY store_id, item_id
),
series_on_d AS (
    SELECT store_id, item_id, sum(units_sold) AS units
    FROM history
    WHERE sales_date = CAST(:partition_date AS DATE)
    GROUP BY store_id, item_id
),
series_compared AS (
    SELECT
        count(b.store_id) AS baseline_series,
        count_if(d.store_id IS NOT NULL) AS baseline_series_on_d,
        count_if(d.ratio > CAST(:series_max_ratio AS double)) AS series_above,
        max(d.ratio) AS max_series_ratio,
        max_by(b.store_id || '/' || b.item_id, d.ratio) AS max_series_ratio_key
    FROM series_baseline AS b
    LEFT JOIN (
        SELECT o.store_id, o.item_id,
               CAST(o.units AS double) / greatest(CAST(m.median_units AS double), CAST(:series_floor_units AS double))
                   AS ratio
        FROM series_on_d AS o
        JOIN series_baseline AS m ON m.store_id = o.store_id AND m.item_id = o.item_id
    ) AS d
        ON d.store_id = b.store_id AND d.item_id = b.item_id
),
scoring_stats AS (
    SELECT
        count(*) AS scoring_rows,
        count(DISTINCT forecast_date) AS scoring_days,
        min(forecast_date) AS scoring_first_day,
        max(forecast_date) AS scoring_last_day,
        count(*) - count(DISTINCT store_id || '/' || item_id || '/' || CAST(forecast_date AS varchar))
            AS scoring_duplicates
    FROM scoring
),
scoring_series AS (
    SELECT count(*) AS scoring_series FROM (SELECT DISTINCT store_id, item_id FROM scoring) AS s
)
SELECT *
FROM window_stats
CROSS JOIN series_stats
CROSS JOIN day_stats
CROSS JOIN duplicate_stats
CROSS JOIN baseline_total
CROSS JOIN series_compared
CROSS JOIN scoring_stats
CROSS JOIN scoring_series
