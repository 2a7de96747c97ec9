-- demand_forecast: the sales history the model trains on.
-- One row per store, item and day sold, for every day of the window ending at the partition day D.
-- Runs with the raw database (e.g. `retail`) as QueryExecutionContext.Database.
-- Parameters, sent as Athena ExecutionParameters (never pasted into this text):
--   :history_start   first day of the window, 'YYYY-MM-DD'
--   :partition_date  D, the last day of the window, 'YYYY-MM-DD'
-- The filter is on the partition column `dt` with constant bounds, so Athena reads only those days.
SELECT
    s.store_id,
    s.item_id,
    CAST(s.dt AS DATE) AS sales_date,
    s.units_sold,
    s.unit_price,
    s.on_promotion,
    c.is_holiday
FROM sales AS s
JOIN calendar AS c
    ON c.calendar_date = CAST(s.dt AS DATE)
WHERE s.dt BETWEEN :history_start AND :partition_date
