-- forecast_monitoring: what the alert policy (batchml.forecast_monitoring.policy) judges day A on, read back
-- from the two published tables: for each day from :alert_start to A, the horizon-1 absolute errors and actual
-- units (feature 'wape_h1'; pooled into the rolling WAPE in the policy) and each input's PSI.
-- Runs with the forecast database as QueryExecutionContext.Database. Parameters: :alert_start, :actuals_day.
SELECT dt, 'wape_h1' AS feature, wape * actual_units AS abs_error, actual_units, CAST(NULL AS DOUBLE) AS psi
FROM forecast_accuracy
WHERE dt BETWEEN :alert_start AND :actuals_day
    AND scope = 'horizon' AND horizon_days = 1
UNION ALL
SELECT dt, feature, CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE), psi
FROM input_drift
WHERE dt BETWEEN :alert_start AND :actuals_day
    AND psi IS NOT NULL
