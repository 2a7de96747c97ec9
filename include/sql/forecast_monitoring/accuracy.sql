-- forecast_monitoring: realised accuracy of the forecasts made for the actuals day A.
-- Every published forecast whose target day is A (partitions A-h .. A-1 of the predictions table, horizon h..1)
-- joined with the sales of A, per store and item. Only pairs with both a forecast and a sales row count: a
-- series without a row on A is a gap in the feed, not a day of zero sales (see the seed and the quality checks).
-- One row per scope: 'overall', one per horizon ('horizon', horizon_days), one per store ('store', store_id).
--   wape = sum|predicted - actual| / sum(actual); mae = mean |predicted - actual|;
--   bias = sum(predicted - actual) / sum(actual)  (> 0: over-forecast). NULL when A sold nothing.
-- Runs with the forecast database (predictions) as QueryExecutionContext.Database; the raw database is
-- :raw_database (a checked identifier, not a value). Parameters (Athena ExecutionParameters):
--   :first_origin, :last_origin   A-h and A-1, 'YYYY-MM-DD' (the partitions read)
--   :actuals_day                  A, 'YYYY-MM-DD'
--   :missing_forecast_partitions  the origins with no published partition, comma-separated ('' if none)
-- If every partition is missing, the 'overall' row is still written (forecast_rows 0): reported, not fatal.
WITH forecasts AS (
    SELECT store_id, item_id, horizon_days, predicted_units
    FROM predictions
    WHERE dt BETWEEN :first_origin AND :last_origin
        AND forecast_date = CAST(:actuals_day AS DATE)
),
actuals AS (
    SELECT store_id, item_id, CAST(units_sold AS DOUBLE) AS units_sold
    FROM :raw_database.sales
    WHERE dt = :actuals_day
),
joined AS (
    SELECT f.store_id, f.horizon_days, f.predicted_units - a.units_sold AS error, a.units_sold AS actual
    FROM forecasts AS f
    JOIN actuals AS a
        ON a.store_id = f.store_id AND a.item_id = f.item_id
),
grouped AS (
    SELECT 'overall' AS scope, CAST(NULL AS INTEGER) AS horizon_days, CAST(NULL AS VARCHAR) AS store_id,
           sum(abs(error)) AS abs_error, sum(error) AS error, sum(actual) AS actual, count(*) AS n
    FROM joined
    UNION ALL
    SELECT 'horizon', CAST(horizon_days AS INTEGER), CAST(NULL AS VARCHAR),
           sum(abs(error)), sum(error), sum(actual), count(*)
    FROM joined
    GROUP BY horizon_days
    UNION ALL
    SELECT 'store', CAST(NULL AS INTEGER), store_id, sum(abs(error)), sum(error), sum(actual), count(*)
    FROM joined
    GROUP BY store_id
)
SELECT
    scope,
    horizon_days,
    store_id,
    abs_error / nullif(actual, 0e0) AS wape,
    abs_error / nullif(CAST(n AS DOUBLE), 0e0) AS mae,
    error / nullif(actual, 0e0) AS bias,
    CAST(n AS BIGINT) AS forecast_rows,
    coalesce(actual, 0e0) AS actual_units,
    :missing_forecast_partitions AS missing_forecast_partitions
FROM grouped
