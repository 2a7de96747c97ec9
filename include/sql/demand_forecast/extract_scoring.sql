-- demand_forecast: the inputs for scoring the days after D.
-- One row per active store-item series and forecast day, with what is known in advance about that
-- day: its holidays (calendar) and planned promotions. Sales history for the lags comes from the
-- training extract.
-- Runs with the raw database (e.g. `retail`) as QueryExecutionContext.Database.
-- Parameters (Athena ExecutionParameters):
--   :active_start    a series is active if it sold on or after this day, 'YYYY-MM-DD'
--   :partition_date  D, 'YYYY-MM-DD'
--   :first_day       D + 1, 'YYYY-MM-DD'
--   :last_day        D + horizon, 'YYYY-MM-DD'
WITH active AS (
    SELECT DISTINCT store_id, item_id
    FROM sales
    WHERE dt BETWEEN :active_start AND :partition_date
)
SELECT
    a.store_id,
    a.item_id,
    c.calendar_date AS forecast_date,
    c.is_holiday,
    p.promo_date IS NOT NULL AS on_promotion
FROM active AS a
CROSS JOIN calendar AS c
LEFT JOIN promotions AS p
    ON p.store_id = a.store_id
    AND p.item_id = a.item_id
    AND p.promo_date = c.calendar_date
WHERE c.calendar_date BETWEEN CAST(:first_day AS DATE) AND CAST(:last_day AS DATE)
